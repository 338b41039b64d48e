"""The pipeline's two Lambda functions and the code they share.

* :mod:`mediapipe_handlers.ingest_orchestrator` — SQS-driven: turns an S3 "Object Created" event
  (or a job-retry command) into a MediaAssets record and MediaConvert jobs.
* :mod:`mediapipe_handlers.job_status_processor` — EventBridge-driven: folds MediaConvert job
  state changes into the record, writes the asset manifest and announces final states.

Nothing here reads the environment or creates AWS clients at import time: both happen on the
first invocation (see :mod:`mediapipe_handlers.runtime`), which keeps cold starts short and lets
tests import the modules freely.
"""
