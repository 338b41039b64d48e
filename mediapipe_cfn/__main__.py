"""`python -m mediapipe_cfn` runs the CLI."""

from mediapipe_cfn.cli import main

main()
