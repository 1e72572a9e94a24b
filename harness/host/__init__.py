"""What a run owns on this machine: its processes (and their trees), the ports it reserved, and the run
state that lets a later run sweep what a dead one left. Shared by the stack backends, the load and the
notification sinks; it imports none of them."""
