"""Media layer: probe files, decode clips and aligned audio, cut and encode with FFmpeg."""

from .decode import (
    AUDIO_SAMPLE_RATE,
    DecodedClip,
    DecordReader,
    FrameBatch,
    FrameReader,
    TorchcodecReader,
    decode_audio,
    decode_clip,
    indices_for_span,
    open_reader,
)
from .ffmpeg import cut_clip, encode_video, run_ffmpeg
from .probe import VideoInfo, frame_timestamps, keyframe_indices, probe

__all__ = [
    "AUDIO_SAMPLE_RATE",
    "DecodedClip",
    "DecordReader",
    "FrameBatch",
    "FrameReader",
    "TorchcodecReader",
    "VideoInfo",
    "cut_clip",
    "decode_audio",
    "decode_clip",
    "encode_video",
    "frame_timestamps",
    "indices_for_span",
    "keyframe_indices",
    "open_reader",
    "probe",
    "run_ffmpeg",
]
