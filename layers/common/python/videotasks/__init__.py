"""videotasks: the domain package shared by every function through the common layer."""
