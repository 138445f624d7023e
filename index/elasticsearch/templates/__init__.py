"""Elasticsearch index mappings (JSON), loaded by index.elasticsearch.mappings."""
