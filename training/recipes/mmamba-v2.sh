#!/usr/bin/env bash
# Recipe: M-Mamba v2 — dataset v2, tokenizer v2 with a word prior (GloVe 50-d for stages 1-2, MiniLM from stage 3:
# docs/evaluation.md "Choosing the language prior"), and the cheap-scan block of VMamba v3
# (expand 1, d_state 1, a GEGLU feed-forward sublayer; 6 layers, d = 256, about the parameters of M-Mamba S),
# trained in stages of at most ~25 min on one H200. Each stage is a chain of device calls on one warm machine
# (/tmp/runs survives between calls that start within 30 s of each other) and leaves its EMA weights in
# training/stages/mmamba-v2/ (mmamba/stage.py: int8 rows, word prior unbaked, ~6 MB), where the next stage
# starts from (fresh AdamW, LR warm-up, the step count continues). The LR is constant after warm-up (the stable
# phase); a candidate for shipping is the EMA export of a stage, judged on the fixed ruler.
#
#   here:    bash training/recipes/mmamba-v2.sh prepare       # npm run data (dataset v2) if missing, the word
#                                                              # tables, and the pinned training/ trees below
#   device:  kind nvidia-h200, carry ["data/packed", the stage's word table (training/prior/glove50.npz for
#            stages 1-2; training/prior/minilm128.npz, from stage 3, is in the repository), its pinned tree
#            (training/runs/recipe/src-SRC)]
#            (park what the GPU does not read: scripts/device_travel.sh; `size` says whether it fits)
#            STAGE=K bash training/recipes/mmamba-v2.sh begin MIN   # tokens (+ the ruler's evaluators when
#                                                                    # training/ruler/ has none), train MIN minutes
#            STAGE=K bash training/recipes/mmamba-v2.sh more MIN    # resume, train MIN minutes (UNTIL_STEP=S: and
#                                                                    # stop at step S at most)
#            (begin and more also return the stage and the candidate export, as save does, and their logs as
#            logs.tgz: if the machine goes cold before the next call, the returned stage/ is the next begin's start)
#            STAGE=K bash training/recipes/mmamba-v2.sh end MIN     # resume, train MIN minutes; the stage and a
#                                                                    # candidate export; report.tgz: the ruler
#                                                                    # (guidance 2) and everyday grid, the
#                                                                    # candidate's ruler and grid at the page's
#                                                                    # setting, both grids' machine count (+ the
#                                                                    # sampling sweep if SWEEP=1)
#            STAGE=K bash training/recipes/mmamba-v2.sh cool STEPS  # the candidate from a cool-down: a copy of the
#                                                                    # run trains STEPS more, LR linear to 0; the
#                                                                    # stage (stable LR) and that candidate, then
#                                                                    # report.tgz as end
#            STAGE=K bash training/recipes/mmamba-v2.sh save        # the stage and the candidate export only
#            STAGE=K bash training/recipes/mmamba-v2.sh score       # then (same warm machine) report.tgz as end
#            STAGE=K bash training/recipes/mmamba-v2.sh sweep       # only the sampling sweep (report-sweep.tgz)
#            STAGE=K bash training/recipes/mmamba-v2.sh speed         # before begin: this block's training step
#                                                                    # eager vs torch.compile, UViT S beside it
#                                                                    # (bench_train_step.py, batch 512, one process);
#                                                                    # compile is kept when >= 10 % faster
#            F16=1 (with begin, more, end or save): the candidate is also exported in f16, and score puts it on the
#            ruler beside the int8 one (the download format's quality cost)
#            COMPILE=1 adds torch.compile to every training call of a stage (all calls of a stage alike); unset, the
#            calls follow the choice `speed` left in /tmp/runs/compile (eager when there is none)
#   here:    copy the returned stage/ over training/stages/mmamba-v2/ and commit it (the next stage's start);
#            a candidate that beats the shipped model on the ruler and the everyday grid replaces it
#
# Stages (the training/ tree each ran with, device calls, minutes of training, resulting step / images):
#   stage 1: training/ of 0b860e7 (2026-12-02): begin 5.5 (beside the ruler's evaluators), more 8.3, end 2.0, then
#            more 3.9 and the stage saved by hand (`python -m mmamba.stage --ckpt /tmp/runs/stage1 --stage 1`;
#            a call returns at most 8 files, and `end`'s ruler, grid and logs had taken them): step 8,670,
#            4.44 M images, validation masked CE (EMA) 1.341
#   stage 2: training/ of 088555f (2026-12-02): speed (compile chosen: 9,150 vs 4,834 images/s), begin 3.5, more 8.3,
#            end 2.2 (the candidate, shipped as mmamba-v2: step 19,340, 9.90 M images, validation CE (EMA) 1.282),
#            then more 3.6 and the stage saved by hand as above: step 22,000, 11.26 M images, CE (EMA) 1.274
#   stage 3: the word prior swaps to MiniLM (PCA 128): the stage-2 weights load except text.word_proj, which starts
#            fresh for the new table (train_gen.py --swap-prior; the word list and every token id are the same).
#            training/ of 5eed2d2 (2026-12-03): begin 7 + save (one call), score, then more 4.3 + save + score (one
#            call; the shipped mmamba-v2: step 32,000, 16.38 M images, validation CE (EMA) 1.254). A first begin 4.5
#            was lost when the machine went cold before the next call, so begin and more now save the stage too.
#   stage 4: MiniLM, from stage 3's weights (no swap); training/ of 9c306f3 (2026-12-03), which adds the cool-down
#            (`cool STEPS`: the shipping candidate from a copy of the run whose LR decays to 0) and the split scan's
#            'parallel' kind (MMAMBA_SPLIT_BWD=parallel; measured slower, so unset: scratch). begin 6 (COMPILE=1; step
#            36,620, the stage saved for stage 5, CE (EMA) 1.251), then `F16=1 cool 2000` (the shipped mmamba-v2:
#            step 38,620, 19.77 M images, CE (EMA) 1.251, raw 1.258) and `sweep`, each its own call
#   stage 5: as stage 4, from its stable weights (step 36,620 in training/stages/mmamba-v2/); training/ of 92855f8.
#            Stages 3-4 trained with a MiniLM table rebuilt in each session (sha256 a194e2c1…); the repository now
#            keeps one (4e44e089…, the same words, other bytes from other library versions), so begin swaps the
#            prior (--swap-prior: word_proj starts fresh, as in stage 3)
#            (the parallel kind removed, the sampling sweep's grid around guidance 4 / tau 1.5)
declare -A SRC=([1]=0b860e7 [2]=088555f [3]=5eed2d2 [4]=9c306f3 [5]=92855f8)
declare -A PRIOR_OF=([1]=glove [2]=glove [3]=minilm [4]=minilm [5]=minilm)   # the word table each stage trains with
ID=mmamba-v2
ARCH=(--model mmamba --expand 1 --d-state 1 --ffn --ffn-mult 2 --layers 6)
COMPARE=(mmamba-v2)   # the shipped default beside every candidate (RULER_V1=1 adds mmamba-s and uvit-s)
# `speed`: this block's training step eager vs compiled, UViT S beside it; compile is kept when >= 10 % faster
SPEED_WHAT="training step at batch 512: UViT S and this block, eager and compiled (interleaved rounds)"
SPEED_VARIANTS="uvit,mmamba:split@expand=1,d_state=1,ffn=1,ffn_mult=2,layers=6"
SPEED_KEY=mmamba:split
source "$(dirname "$0")/stages.sh"   # the stage machinery and the verbs, shared with the other staged lines
