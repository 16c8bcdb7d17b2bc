"""AWS Elemental MediaConvert as a transcoder: the job settings, the client set-up, the reports, the transcoder."""

from exports_app.transcode.mediaconvert.reports import report_from_event
from exports_app.transcode.mediaconvert.transcoder import MediaConvertTranscoder

__all__ = ["MediaConvertTranscoder", "report_from_event"]
