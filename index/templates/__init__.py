"""Elasticsearch index mappings (JSON), loaded by index.es_mappings."""
