"""The policy manifest: the published one is consistent, broken entries are found, a re-score finds a changed
record."""

from __future__ import annotations

import json
from pathlib import Path

from rwmu.cli.main import main
from rwmu.experiments.manifest import check_manifest, merge_entries, read_manifest

ROOT = Path(__file__).resolve().parents[2]
POLICY = "docs/results/policies/behavior/model_550/policy.onnx"


def test_the_published_manifest_is_consistent():
    data = read_manifest(ROOT / "docs/results/policies.json")
    assert check_manifest(data, ROOT) == []
    recipes = [e for e in data["policies"] if e.get("recipe")]
    assert recipes and all(e["experiment"].startswith("experiments/") for e in recipes)


def test_broken_entries_are_listed(tmp_path):
    (tmp_path / "a.onnx").write_bytes(b"x")
    entries = [
        {"file": "a.onnx", "recipe": "bc", "experiment": "e", "true_return": 1.0, "eval_seed": 0},
        {"file": "a.onnx", "recipe": "bc", "experiment": "e", "true_return": 2.0, "eval_seed": 0},
        {"file": "missing.onnx", "recipe": "bc", "experiment": "e"},
        {"file": "a.onnx", "experiment": "e", "true_return": 1.0, "eval_seed": 0},
    ]
    problems = check_manifest({"policies": entries}, tmp_path)
    assert any("missing.onnx does not exist" in p for p in problems)
    assert any("a.onnx: 3 entries" in p and "different recorded scores" in p for p in problems)
    assert any("entry 3" in p and "neither a recipe nor a method" in p for p in problems)
    same = [entries[0], dict(entries[0], dataset="other")]  # one policy listed twice with the same score: fine
    assert check_manifest({"policies": same}, tmp_path) == []
    assert merge_entries(entries[:3], [{"file": "a.onnx", "new": True}]) == [
        entries[2],
        {"file": "a.onnx", "new": True},
    ]


def test_rescore_finds_the_entry_whose_record_differs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    manifest = tmp_path / "policies.json"
    entry = {
        "file": POLICY,
        "dataset": "medium",
        "method": "behaviour policy",
        "experiment": "e",
        "eval_seed": 0,
        "episodes": 1,
    }
    manifest.write_text(json.dumps({"policies": [dict(entry, true_return=-1.0)]}))
    args = ["manifest", "rescore", "--manifest", str(manifest), "--out", str(tmp_path / "r"), "--episodes", "1"]
    assert main(args) == 0
    first = json.loads((tmp_path / "r/rescore.json").read_text())
    assert first["differing"] == [POLICY]
    true_return = first["entries"][0]["rescored_return"]
    manifest.write_text(json.dumps({"policies": [dict(entry, true_return=true_return)]}))
    assert main([*args[:-4], "--out", str(tmp_path / "r2"), "--episodes", "1"]) == 0
    assert json.loads((tmp_path / "r2/rescore.json").read_text())["differing"] == []
    # held-out schedules: a new protocol, nothing to compare, the schedules written beside
    assert main([*args[:-4], "--out", str(tmp_path / "r3"), "--episodes", "1", "--heldout-seed", "7"]) == 0
    third = json.loads((tmp_path / "r3/rescore.json").read_text())
    assert third["differing"] == [] and not third["entries"][0]["comparable"]
    assert len(json.loads((tmp_path / "r3/heldout_schedules.json").read_text())) == 8
    capsys.readouterr()
    assert (
        main(["manifest", "rescore", "--manifest", str(manifest), "--out", str(tmp_path / "r4"), "--recipe", "nope"])
        == 2
    )
    assert "no entry matches" in capsys.readouterr().err
