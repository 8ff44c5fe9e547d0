"""What happens on a node: directories, environment, the process, its exit. Shared by every backend."""
