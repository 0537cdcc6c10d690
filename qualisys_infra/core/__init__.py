"""The ground every construct, stack and wing stands on: the settings types, the engine seam, names,
network arithmetic, errors, progress and the Node.js runtime set-up. It imports nothing above it."""
