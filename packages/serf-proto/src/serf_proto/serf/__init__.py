"""The Serf layer over the membership core: clocks, members, events, queries, keys, snapshots."""
