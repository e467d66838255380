"""Asking a causal language model to repeat a token: the check that confirms an under-trained candidate.

This is the third step of Land and Bartolo's *Fishing for Magikarp* (EMNLP 2024): a prompt
in which the model has repeated a text several times already ends where the model is to
repeat it once more, and the probability the model gives the candidate token at that place
is read. A trained token is repeated with a high probability; an under-trained one gets a
low one, because the model never learned to predict it.

**The prompt.** Without a chat template (a base model), the paper's "device" prompt, in
its style and with :data:`PLAIN_SHOTS` examples::

    This device repeats its input exactly, as these identical trials show.
    Input: «{token}»
    Output: «{token}»
    ... (PLAIN_SHOTS times)
    Input: «{token}»
    Output: «

With a chat template (the tokenizer's ``chat_template``), the same exchange as chat turns:
:data:`CHAT_SHOTS` user turns ``Repeat this text exactly, with nothing else: «{token}»``
each answered ``«{token}»``, the same request once more, the template's generation prompt,
and ``«`` as the start of the answer.

**The token goes in by id.** The prompt is encoded once with a one-token placeholder
(:data:`PLACEHOLDERS`, the first whose every occurrence is exactly one token) and the
candidate's id is put at those positions, so a token no text encodes to (an unreachable
one) is asked about as well; the paper builds its prompts the same way. Every candidate's
sequence has the same length, so batches need no padding. The probability is the softmax
over the model's whole output row (every row of its head, padding rows included) at the
last position, in float32.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atlas.core.topk import resolve_device
from atlas.errors import InvalidArgument, NoTokenHead, PromptUnavailable, SourceNotFound
from atlas.files.hidden_states import special_template
from atlas.files.model_files import quiet_transformers, read_json

TOKEN = "{token}"  # where the candidate goes, in the prompt as it is recorded
PLAIN_PREAMBLE = "This device repeats its input exactly, as these identical trials show."
PLAIN_TURN = "\nInput: «{token}»\nOutput: «{token}»"
PLAIN_LAST = "\nInput: «{token}»\nOutput: «"
PLAIN_SHOTS = 20  # as in the paper's input/output prompt
CHAT_ASK = "Repeat this text exactly, with nothing else: «{token}»"
CHAT_ANSWER = "«{token}»"
CHAT_SHOTS = 3
CHAT_ANSWER_START = "«"
PLACEHOLDERS = ("x", "a", "0", "A", "Z", "the", "cat", "7")  # texts one of which is a token of its own in the prompt
TOKEN_HEADS = ("ForCausalLM", "LMHeadModel")  # architecture names of models whose head predicts the next token
Progress = Callable[[int, int], None]  # (candidates checked in this batch, all candidates)


@dataclass(frozen=True)
class RepeatPrompt:
    """A repeat prompt as token ids, with the positions the candidate token goes to.

    >>> prompt = RepeatPrompt((5, 9, 6, 9, 7), (1, 3), "a {token} b {token} c", "plain")
    >>> prompt.ids_with(42)
    [5, 42, 6, 42, 7]
    """

    ids: tuple[int, ...]  # the prompt, the placeholder at ``slots``
    slots: tuple[int, ...]  # where the candidate goes
    text: str  # the prompt as text, TOKEN where the candidate goes (chat template applied)
    style: str  # 'chat template' or 'plain'

    def ids_with(self, token: int) -> list[int]:
        ids = list(self.ids)
        for slot in self.slots:
            ids[slot] = int(token)
        return ids


def prompt_text(tokenizer) -> tuple[str, str]:
    """The repeat prompt as text with TOKEN where the candidate goes, and its style.

    ``chat template`` when the (transformers) ``tokenizer`` has one, else ``plain`` (see the
    module's prompts).
    """
    if getattr(tokenizer, "chat_template", None):
        messages = []
        for _ in range(CHAT_SHOTS):
            messages += [{"role": "user", "content": CHAT_ASK}, {"role": "assistant", "content": CHAT_ANSWER}]
        messages.append({"role": "user", "content": CHAT_ASK})
        try:
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as exc:
            raise PromptUnavailable(
                f"the tokenizer's chat template fails on a repeat prompt: {exc}".splitlines()[0]
            ) from None
        return str(text) + CHAT_ANSWER_START, "chat template"
    return PLAIN_PREAMBLE + PLAIN_TURN * PLAIN_SHOTS + PLAIN_LAST, "plain"


def slot_count(style: str) -> int:
    """How many times the candidate appears in a prompt of ``style``.

    >>> slot_count("plain"), slot_count("chat template")
    (41, 7)
    """
    return 2 * (PLAIN_SHOTS if style == "plain" else CHAT_SHOTS) + 1


def build_prompt(tokenizer) -> RepeatPrompt:
    """The repeat prompt of ``tokenizer`` (a transformers fast tokenizer) as ids, with the candidate's positions.

    A plain prompt starts with the special tokens the tokenizer puts before a text (a BOS);
    a chat template writes its own.
    """
    text, style = prompt_text(tokenizer)
    pieces = text.split(TOKEN)
    if len(pieces) - 1 != slot_count(style):
        raise PromptUnavailable(
            f"the tokenizer's chat template does not keep the repeat prompt's text as given ({len(pieces) - 1} "
            f"of {slot_count(style)} places for the token are left); the candidates cannot be checked with it"
        )
    prefix = list(special_template(tokenizer).prefix) if style == "plain" else []
    for placeholder in PLACEHOLDERS:
        spans, at = [], 0
        for piece in pieces[:-1]:
            at += len(piece)
            spans.append((at, at + len(placeholder)))
            at += len(placeholder)
        filled = placeholder.join(pieces)
        encoded = tokenizer(filled, add_special_tokens=False, return_offsets_mapping=True)
        offsets = [tuple(span) for span in encoded["offset_mapping"]]
        where = {span: i for i, span in enumerate(offsets)}
        if all(span in where and offsets.count(span) == 1 for span in spans):
            slots = tuple(len(prefix) + where[span] for span in spans)
            return RepeatPrompt((*prefix, *encoded["input_ids"]), slots, text, style)
    raise PromptUnavailable(
        f"cannot build the repeat prompt: none of {', '.join(map(repr, PLACEHOLDERS))} is a token of its own "
        "in it with this tokenizer"
    )


def require_token_head(folder: Path, model: str) -> None:
    """NoTokenHead unless the config in ``folder`` names an architecture whose head predicts the next token.

    A config that names no architecture passes; :func:`load_causal_lm` checks its weights.

    >>> import json, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    >>> require_token_head(folder, "minilm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    atlas.errors.NoTokenHead: model 'minilm' (BertModel) has no head that predicts tokens: ...
    """
    config = read_json(folder / "config.json")
    names = config.get("architectures") if isinstance(config, dict) else None
    if not names:
        return
    names = [str(name) for name in names]
    if any(name.endswith(TOKEN_HEADS) for name in names):
        return
    shown = ", ".join(names)
    if any(name.endswith("ForMaskedLM") for name in names):
        raise NoTokenHead(
            f"model {model!r} ({shown}) predicts masked tokens, not the next one, so it cannot be asked to repeat a "
            "token; the repeat check needs a causal language model (its under-training scores stand without it)"
        )
    raise NoTokenHead(
        f"model {model!r} ({shown}) has no head that predicts tokens: it is an encoder that outputs vectors, so it "
        "cannot be asked to repeat a token; run `atlas untrained` without --verify-top (the scores stand without "
        "the check), or check the candidates of a causal language model"
    )


def load_causal_lm(folder: Path, model: str, device: str = "cpu") -> Any:
    """The causal language model in ``folder`` (``AutoModelForCausalLM``), float32, in eval mode, on ``device``.

    NoTokenHead when transformers has no causal head for it, or when its weights lack some of
    the model's tensors (transformers would fill them at random: an encoder's checkpoint
    loaded under a head it never had).
    """
    import torch
    from transformers import AutoModelForCausalLM

    require_token_head(folder, model)
    with quiet_transformers():
        try:
            loaded: Any = AutoModelForCausalLM.from_pretrained(
                str(folder), dtype=torch.float32, output_loading_info=True
            )
        except ValueError as exc:
            if "Unrecognized configuration class" in str(exc):
                raise NoTokenHead(
                    f"model {model!r} has no head that predicts tokens (transformers has no causal language model "
                    "for its configuration), so it cannot be asked to repeat a token; run `atlas untrained` without "
                    "--verify-top"
                ) from None
            raise SourceNotFound(f"cannot load the model in {folder}: {exc}".splitlines()[0]) from None
        except Exception as exc:
            raise SourceNotFound(f"cannot load the model in {folder}: {exc}".splitlines()[0]) from None
    lm, info = loaded
    missing = sorted(set(info.get("missing_keys", ())))
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise NoTokenHead(
            f"the weights of model {model!r} in {folder} lack {len(missing):,} tensors of a language model ({shown}): "
            "it has no trained head that predicts tokens, so it cannot be asked to repeat a token; run "
            "`atlas untrained` without --verify-top"
        )
    return lm.to(resolve_device(device)).eval()


def repeat_probabilities(
    lm: Any,
    prompt: RepeatPrompt,
    tokens: Sequence[int],
    batch_size: int = 8,
    on_progress: Progress | None = None,
) -> np.ndarray:
    """The probability ``lm`` gives each of ``tokens`` at the end of ``prompt`` with that token in it: ``(n,)`` float64.

    Runs ``batch_size`` candidates at a time on the model's device (memory: ``batch_size``
    sequences of ``len(prompt.ids)`` tokens through the model, and one output row each).
    """
    import torch

    if batch_size < 1:
        raise InvalidArgument(f"batch size must be at least 1, got {batch_size}")
    vocabulary = int(lm.get_output_embeddings().weight.shape[0])
    wanted = np.asarray(tokens, dtype=np.int64)  # (n,)
    outside = wanted[(wanted < 0) | (wanted >= vocabulary)]
    if len(outside):
        raise InvalidArgument(f"token id {int(outside[0])} is outside the model's {vocabulary:,} output rows")
    device = next(lm.parameters()).device
    last_only = "logits_to_keep" in inspect.signature(lm.forward).parameters
    out = np.empty(len(wanted), dtype=np.float64)
    tell = on_progress or (lambda done, total: None)
    with torch.no_grad():
        for start in range(0, len(wanted), batch_size):
            batch = wanted[start : start + batch_size]
            input_ids = torch.tensor([prompt.ids_with(t) for t in batch.tolist()], dtype=torch.int64, device=device)
            extra = {"logits_to_keep": 1} if last_only else {}
            logits = lm(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), use_cache=False, **extra).logits
            last = torch.log_softmax(logits[:, -1, :].float(), dim=-1)  # (B, vocabulary)
            picked = last.gather(1, torch.from_numpy(batch).to(device)[:, None])[:, 0]  # (B,)
            out[start : start + len(batch)] = picked.exp().double().cpu().numpy()
            tell(len(batch), len(wanted))
    return out
