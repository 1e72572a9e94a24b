"""The core: what a run is and how it is judged, with no service behind it. Nothing here imports an adapter
(stack backends, faults, load, observation, reports); they depend on the core, never the reverse."""
