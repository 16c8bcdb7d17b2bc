"""Transcode overhead: our local pipeline vs the bare ffmpeg command it runs, and one ffmpeg per rendition."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import REPEATS, median_of, report
from exports_app.domain import JobStatus
from exports_app.transcode.base import JobRequest, PendingJob
from exports_app.transcode.clips import make_clip
from exports_app.transcode.ffmpeg import ffmpeg_exe
from exports_app.transcode.hls_encode import build_ladder_command
from exports_app.transcode.ladder import choose_renditions
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from exports_app.transcode.probe import probe_video

SECONDS = 30.0


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    try:
        clip = make_clip(work / "src.mp4", seconds=SECONDS, width=1920, height=1080, preset="ultrafast")
        probe = probe_video(clip)
        rungs = choose_renditions(probe.width, probe.height)

        def bare() -> None:
            out = work / "bare"
            shutil.rmtree(out, ignore_errors=True)
            for i in range(len(rungs)):
                (out / f"v{i}").mkdir(parents=True)
            cmd = build_ladder_command(ffmpeg_exe(), clip, out, rungs, probe, progress=False)
            subprocess.run(cmd, check=True, capture_output=True)

        counter = iter(range(1, 1000))

        def ours() -> None:
            tc = LocalFfmpegTranscoder(work / "hls")
            n = next(counter)
            req = JobRequest(n, n, 1, f"bench-{n}", clip, probe.duration_seconds, probe.height)
            pending = PendingJob(req, tc.submit(req), JobStatus.SUBMITTED)
            while True:
                status = tc.poll([pending])[0].status
                if status.terminal:
                    break
                time.sleep(0.02)
            tc.close()
            assert status is JobStatus.SUCCEEDED

        def per_rendition() -> None:
            # The naive alternative: one ffmpeg per rung, each decoding the source again, run side by side.
            processes = []
            for i, rung in enumerate(rungs):
                out = work / f"single{i}"
                shutil.rmtree(out, ignore_errors=True)
                (out / "v0").mkdir(parents=True)
                cmd = build_ladder_command(ffmpeg_exe(), clip, out, [rung], probe, progress=False)
                processes.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for process in processes:
                assert process.wait() == 0

        bare_s, ours_s, split_s = median_of(bare), median_of(ours), median_of(per_rendition)
        report(
            f"Transcode overhead (30 s 1080p → {len(rungs)} renditions, median of {REPEATS})",
            bare_ffmpeg_s=bare_s,
            our_pipeline_s=ours_s,
            ratio_ours_vs_bare=ours_s / bare_s,
            realtime_factor=SECONDS / ours_s,
            one_ffmpeg_per_rendition_s=split_s,
            ratio_single_process_vs_per_rendition=ours_s / split_s,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
