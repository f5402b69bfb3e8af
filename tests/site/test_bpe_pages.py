"""The lesson's tokenizer reads every page of this site and gives it back exactly."""

from __future__ import annotations

import inspect

import transformer_primer.sketch
from primer_site.sections import all_pages
from transformer_primer.bpe import train_bpe


def test_round_trip_on_every_page_of_the_site() -> None:
    bpe = train_bpe(inspect.getsource(transformer_primer.sketch), n_merges=400)  # as in the lesson
    pages = all_pages()
    assert len(pages) >= 20
    total_tokens = total_bytes = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        ids = bpe.encode(text)
        assert bpe.decode(ids) == text, f"{page.name}: decode(encode(text)) differs"
        total_tokens += len(ids)
        total_bytes += len(text.encode("utf-8"))
    assert total_tokens < total_bytes  # the merges learned from the notebook shorten the pages too
