"""Installing an artifact on hosts: reaching them, unpacking, switching, health checks, retention."""
