"""Photo evidence (issue 18): the rules, the image, the files. Core: no Textual, no HTTP.

- `config`: `[[cameras]]` and `[photos]` of station.toml;
- `image`: a camera's picture as stored — upright, metadata (GPS) stripped, resized, JPEG, SHA-256;
- `rules`: which steps need photos, and when a step has what it needs;
- `store`: files under the home (`photos/<LPN>/…jpg`, fsynced before the commit), rows, checks.
The use cases that move an inspection on are dockstation/inspection/photos.py; cameras (HTTP,
folder, V4L2) are dockstation/cameras; upload to HQ is sync/photos.py. docs/photos.md.

Import the submodules themselves: this package loads nothing (the TUI's first screen imports
`rules` and must not pay for Pillow).
"""
