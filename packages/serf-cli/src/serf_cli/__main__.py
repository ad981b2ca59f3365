"""``python -m serf_cli ARGS`` runs ``serf ARGS``."""

from serf_cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
