"""Provider clients: the only modules that talk HTTP to generation providers."""

from videotasks.adapters.providers._http import JobRequest, MediaStream, ProviderJob
from videotasks.adapters.providers.fal_queue import FalQueueProvider
from videotasks.adapters.providers.openai_images import ImagesProvider
from videotasks.adapters.providers.openai_videos import VideosProvider

__all__ = ["FalQueueProvider", "ImagesProvider", "JobRequest", "MediaStream", "ProviderJob", "VideosProvider"]
