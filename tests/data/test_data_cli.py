"""``rwmu data`` subcommands in-process: example, convert (both ways), info, validate."""

from __future__ import annotations

import json

import numpy as np

from rwmu.cli.main import main
from rwmu.data.loading import load_dataset
from rwmu.tasks import get_task


def test_example_convert_info_validate(tmp_path, capsys):
    csv_dir = tmp_path / "csv"
    assert main(["data", "example", "--out", str(csv_dir), "--trajectories", "2", "--steps", "300"]) == 0
    assert sorted(p.name for p in csv_dir.glob("*.csv")) == ["state_action_data_0.csv", "state_action_data_1.csv"]
    assert (csv_dir / "example_config.json").exists()

    native = tmp_path / "d.rwmu"
    assert main(["data", "convert", str(csv_dir), str(native), "--task", "anymal_d_flat"]) == 0
    ds = load_dataset(native)
    assert ds.dims.num_columns == 66 and ds.num_rows == 600 and ds.meta["task"] == "anymal_d_flat"

    back = tmp_path / "back"
    assert main(["data", "convert", str(native), str(back)]) == 0
    again = load_dataset(back, task=get_task("anymal_d_flat"))
    assert again.data.tobytes() == ds.data.tobytes()

    capsys.readouterr()
    assert main(["data", "info", str(native), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 600 and report["trajectories"] == 2
    assert report["terminations"] == ds.num_terminations and report["episodes"] == ds.num_episodes
    col = report["columns"][0]
    assert col["name"] == "state/base_lin_vel_x"
    assert np.isclose(col["mean"], ds.data[:, 0].mean(dtype=np.float64), atol=1e-6)

    assert main(["data", "info", str(csv_dir), "--task", "anymal_d_flat"]) == 0
    table = capsys.readouterr().out
    assert "projected_gravity_z" in table and "terminations" in table

    assert main(["data", "validate", str(native), "--task", "anymal_d_flat"]) == 0
    assert capsys.readouterr().out.startswith("OK ")
    assert main(["data", "validate", str(native), "--min-rows", "301"]) == 2
    assert "shorter than one training window" in capsys.readouterr().err


def test_example_small_system_native(tmp_path):
    out = tmp_path / "ex"
    code = main(
        [
            "data",
            "example",
            "--out",
            str(out),
            "--task",
            "none",
            "--format",
            "rwmu",
            "--steps",
            "200",
            "--trajectories",
            "3",
            "--seed",
            "3",
        ]
    )
    assert code == 0
    ds = load_dataset(out / "example.rwmu")
    assert ds.dims.num_columns == 11 and ds.num_trajectories == 3


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_data_of_another_task_is_refused_with_both_names(tmp_path, capsys):
    csv_dir, native = tmp_path / "anymal", tmp_path / "anymal.rwmu"
    for out, fmt in ((csv_dir, "csv"), (native, "rwmu")):
        assert (
            main(
                [
                    "data",
                    "example",
                    "--task",
                    "anymal_d_flat",
                    "--trajectories",
                    "2",
                    "--steps",
                    "50",
                    "--format",
                    fmt,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert main(["data", "validate", str(csv_dir), "--task", "go2_flat"]) == 2
    assert _one_error_line(capsys) == (
        f"rwmu data: error: {csv_dir}: the data was recorded for task anymal_d_flat ({csv_dir}/example_config.json), "
        f"not go2_flat; give --task anymal_d_flat, or data recorded for go2_flat"
    )
    assert main(["data", "validate", str(native), "--task", "go2_flat"]) == 2
    assert "recorded for task anymal_d_flat (its header), not go2_flat" in _one_error_line(capsys)
    assert main(["data", "validate", str(csv_dir), "--task", "anymal_d_flat"]) == 0


def test_a_task_mismatch_is_caught_even_when_the_widths_agree(tmp_path):
    from rwmu.data.native_format import save_dataset
    from rwmu.data.synthetic import make_synthetic_dataset
    from rwmu.errors import RwmuError

    go2 = get_task("go2_flat")
    ds = make_synthetic_dataset(1, 30, dims=go2.dims, seed=0)
    ds.meta["task"] = "anymal_d_flat"
    save_dataset(ds, tmp_path / "d.rwmu")
    try:
        load_dataset(tmp_path / "d.rwmu", task=go2)
    except RwmuError as err:
        assert "recorded for task anymal_d_flat" in str(err) and "not go2_flat" in str(err)
    else:
        raise AssertionError("data of another task was accepted")
