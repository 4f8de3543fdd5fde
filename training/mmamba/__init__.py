"""M-Mamba Web training package: configs, tokenizer, text encoder, M-Mamba / UViT generators,
selective scan, MaskGIT sampler and the shared counter-based RNG (see ../../docs/architecture.md)."""
