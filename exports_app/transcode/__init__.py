"""Transcoders: the local ffmpeg ladder and AWS Elemental MediaConvert behind one protocol."""
