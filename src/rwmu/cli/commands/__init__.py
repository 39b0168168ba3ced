"""The command line of every ``rwmu`` subcommand: its ``Command`` config tree (or ``SUBCOMMANDS``) and, where a recipe,
preset or resumed run sets the defaults, ``defaults(argv)``. These modules import no torch, so that ``rwmu COMMAND
--help`` is quick; :mod:`rwmu.cli.main` imports the runner ``rwmu.cli.<name>`` only to run the command."""
