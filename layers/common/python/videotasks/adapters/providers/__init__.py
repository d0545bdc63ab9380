"""Provider clients: the only modules that talk HTTP to generation providers."""

from videotasks.adapters.providers._http import JobRequest, MediaStream, ProviderJob
from videotasks.adapters.providers.openai_images import ImagesProvider
from videotasks.adapters.providers.openai_videos import VideosProvider

__all__ = ["ImagesProvider", "JobRequest", "MediaStream", "ProviderJob", "VideosProvider"]
