"""Test infrastructure kept out of the runtime packages: the Elasticsearch test node (es_node)."""
