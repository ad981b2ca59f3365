"""One module per ``serf`` command; each offers ``HELP`` and ``run(args, ui) -> exit code``."""
