"""Model card for the pretrained character BERT (task models use nlp.train.model_card)."""
from __future__ import annotations

from typing import Any


def pretrained_card(config: dict[str, Any]) -> str:
    pre = config.get("pretraining", {})
    corpus = pre.get("corpus", {})
    blocks = pre.get("blocks", {})
    schedule = pre.get("schedule", {})
    result = pre.get("result", {})
    metrics = pre.get("metrics", {})
    lines = [
        "# char-bert — compact Chinese character BERT, pretrained by Yuqing Sentinel",
        "",
        "A masked-language-model encoder to fine-tune per task "
        "(`yuqing nlp train <task> --model transformer --init <this folder>`). It is not a classifier itself.",
        "",
        "## Model",
        "",
        f"- BERT: {config.get('num_hidden_layers')} layers, hidden {config.get('hidden_size')}, "
        f"{config.get('num_attention_heads')} heads, feed-forward {config.get('intermediate_size')}, "
        f"{config.get('max_position_embeddings')} positions.",
        f"- Character vocabulary of {config.get('vocab_size')} tokens built from the corpus "
        f"(characters seen ≥ {config.get('tokenizer', {}).get('min_char_count')} times; NFKC, lower case; "
        "whitespace dropped); vocab.txt, one token per line.",
        "- Weights stored as float16 safetensors; Hugging Face `BertForMaskedLM.from_pretrained` opens the folder.",
        "",
        "## Pretraining data",
        "",
        f"- {corpus.get('texts', 0):,} unlabeled texts, {corpus.get('characters', 0):,} characters, from "
        "`../shared/data` (Weibo posts, reposts and comments; citizen messages and official replies; news "
        "headlines; article pages). Labels were never read.",
        "- Every text in any task's dev split (sentiment, emotion, topic, rumor; seed 42) was left out, and "
        "repeats were dropped.",
    ]
    if corpus.get("by_origin"):
        lines.append(f"- Texts by source: {corpus['by_origin']}")
    lines += [
        f"- Packed into {blocks.get('train', 0):,} blocks of {blocks.get('block_size')} tokens "
        f"({blocks.get('tokens', 0):,} tokens); {blocks.get('heldout')} blocks held out.",
        "",
        "## Training",
        "",
        f"- Masked LM, {schedule.get('mask_prob')} of tokens (80% [MASK], 10% random, 10% kept); AdamW lr "
        f"{schedule.get('lr')}, batch {schedule.get('batch_size')}, warm-up {schedule.get('warmup')}, linear decay, "
        f"seed {schedule.get('seed')}, bf16 autocast on {schedule.get('device')}.",
        f"- {result.get('steps')} steps ({result.get('epochs_done')} epochs) in {result.get('seconds')} s; "
        f"final training loss {result.get('final_loss')}.",
        f"- Held-out blocks: masked-token accuracy **{metrics.get('masked_token_accuracy')}**, loss "
        f"{metrics.get('loss')} (perplexity {metrics.get('perplexity')}).",
        "",
        "## Rebuild",
        "",
        "```",
        corpus.get("command", "yuqing nlp pretrain"),
        "```",
        "",
        f"Created {config.get('created_at')} with {config.get('library_versions')}.",
        "",
    ]
    return "\n".join(lines)
