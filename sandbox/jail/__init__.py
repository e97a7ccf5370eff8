"""Process isolation for one sandboxed call: namespaces, the minimal root, seccomp, uids, limits (Linux)."""
