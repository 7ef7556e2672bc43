"""The local stack: installs, starts, checks and stops the platform's services on loopback."""
