"""The Stash-facing entry: what Stash writes to stdin becomes a hook (enqueue, start a worker)
or an operation (a task, a UI call); the command line reaches the same operations."""
