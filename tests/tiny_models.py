"""Tiny, randomly initialised Hugging Face models saved to folders.

Tests load them back through the same public code path a user's hub id
takes (``AutoModel.from_pretrained(folder)``), so they exercise the real
loading, tokenising and feature-extraction code without a network.

Every builder writes a complete folder (config, weights, tokenizer or
processor) and returns its path; ``tiny_model(kind, root)`` caches by kind.
"""

from __future__ import annotations

from pathlib import Path

import torch

KINDS = ("gpt2", "llama", "bert", "wav2vec2", "vit", "clip_vision")

_CORPUS = [
    "I am so happy today", "this is terrible news", "the train is late again",
    "we won the match", "I miss you", "what a surprise", "leave me alone",
    "the meeting starts at nine", "thank you so much", "I am scared of the dark",
]


def _text_tokenizer(folder: Path, *, bos_eos: bool, padding_side: str = "right"):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<s>", "</s>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(_CORPUS, trainers.BpeTrainer(vocab_size=200, special_tokens=specials))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>",
        bos_token="<s>" if bos_eos else None, eos_token="</s>" if bos_eos else None,
        padding_side=padding_side,
    )
    fast.chat_template = (
        "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
        "{% if add_generation_prompt %}<s>assistant:{% endif %}"
    )
    fast.save_pretrained(folder)
    return fast


def _save(model, folder: Path) -> Path:
    model.eval()
    model.save_pretrained(folder)
    return folder


def build_gpt2(folder: Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = _text_tokenizer(folder, bos_eos=True)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=3, n_head=4,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return _save(GPT2LMHeadModel(config), folder)


def build_llama(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    # left padding, as most chat models ship, so both padding sides are exercised
    tokenizer = _text_tokenizer(folder, bos_eos=True, padding_side="left")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return _save(LlamaForCausalLM(config), folder)


def build_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w for s in _CORPUS for w in s.lower().split()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (folder / "vocab.txt").parent.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # transformers 5 ignores vocab_file= in the constructor; from_pretrained reads vocab.txt
    BertTokenizerFast.from_pretrained(folder).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64,
    )
    return _save(BertModel(config), folder)


def build_wav2vec2(folder: Path) -> Path:
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    ).save_pretrained(folder)
    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, feat_extract_norm="layer",
        do_stable_layer_norm=True,
    )
    return _save(Wav2Vec2Model(config), folder)


def build_vit(folder: Path) -> Path:
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    torch.manual_seed(0)
    config = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64,
    )
    return _save(ViTModel(config), folder)


def build_clip_vision(folder: Path) -> Path:
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    torch.manual_seed(0)
    config = CLIPVisionConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, projection_dim=16,
    )
    return _save(CLIPVisionModel(config), folder)


def tiny_model(kind: str, root: Path) -> Path:
    """Folder of a tiny model of ``kind`` under ``root`` (built once)."""
    if kind not in KINDS:
        raise ValueError(f"unknown tiny model {kind!r}; kinds are {KINDS}")
    folder = Path(root) / kind
    if not (folder / "config.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        globals()[f"build_{kind}"](folder)
    return folder
