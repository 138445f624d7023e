"""NLP enrichment: segmentation, PII, sentiment and topic classification, regions, keywords.

Entry points:
  nlp.enrich.Enricher            the enrichment stage (inbox posts → enriched posts)
  nlp.classify.TextClassifier    model directories under nlp/models/ (sentiment, emotion, topic, rumor)
  nlp.regions.RegionExtractor    gazetteer-based region extraction
  nlp.segment.Segmenter          private jieba tokenizer with user dictionaries
  nlp.privacy.mask_pii           masking for reports
  nlp.train.train_task           rebuild a model: `yuqing nlp train <task>`
"""
