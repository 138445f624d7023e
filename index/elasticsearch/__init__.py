"""The Elasticsearch backend: store, client, bulk writes, mappings and templates, queries, spool, Kibana objects.

Needs the `es` extra (`pip install 'yuqing-sentinel[es]'`); nothing outside this
subpackage imports it unless `store.backend: elasticsearch` is configured.
"""
