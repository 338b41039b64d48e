"""Day-2 operations against a deployed pipeline: find an asset, retry it, drain a DLQ, check health.

Every command finds the pipeline by its stack name (:mod:`.stack` reads the stack's outputs once)
and talks to AWS through :mod:`.aws`, which imports boto3 only when a command runs, so `render`
and `--help` never load it. One module per concern: :mod:`.assets`, :mod:`.dlq`,
:mod:`.health`, :mod:`.output` (tables and JSON), :mod:`.policy` (the operator's IAM policy).
"""
