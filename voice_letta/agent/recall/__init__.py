"""Retrieval over an agent's memory: per-agent keyword and vector indexes, score fusion, confidence.

Sans-I/O (numpy only): ``agent.memory_search.MemorySearch`` loads rows from the store, owns the tasks and calls
these. Everything here is per agent, so no result depends on another agent's data.
"""
