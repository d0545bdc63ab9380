"""Provider clients: the only modules that talk HTTP to generation providers."""

from ._http import JobRequest, MediaStream, ProviderJob, retry_after_of
from .openai_images import ImagesProvider
from .openai_videos import VideosProvider

__all__ = ["ImagesProvider", "JobRequest", "MediaStream", "ProviderJob", "VideosProvider", "retry_after_of"]
