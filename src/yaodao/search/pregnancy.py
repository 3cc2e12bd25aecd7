"""Which medicines suit a pregnant or breastfeeding person, for ranking search answers.

A query that names pregnancy (孕妇, 怀孕, pregnant) should show first what a pharmacist would hand a
pregnant customer, and last what she should not take without a doctor. The label's own
contraindications say so for some products (孕妇禁用, 妊娠晚期妇女禁用); for the common OTC
ingredients the guidance is general and kept here:

* Preferred: paracetamol is the first-choice painkiller and fever reducer in pregnancy; lactulose
  and glycerol suppositories for constipation; clotrimazole and miconazole for vaginal thrush;
  calamine for itching; antacids (aluminium hydroxide, hydrotalcite) for heartburn; sodium
  hyaluronate eye drops; folic acid.
  Sources: the NHS guidance on medicines in pregnancy (its paracetamol, constipation, thrush and
  heartburn pages). A product's own label still wins: one that says 孕妇禁用 is avoided whatever
  its ingredients.
* Avoided: NSAIDs (ibuprofen, diclofenac, aspirin at analgesic doses; FDA 2020 warning from 20
  weeks), loperamide, decongestants (pseudoephedrine, phenylephrine), and codeine.

This only orders the answers: nothing is hidden, and the safety gate at checkout still checks each
order (DOMAIN DDI1).
"""

from __future__ import annotations

from yaodao.catalog.model import Product

PREFERRED = frozenset(
    {
        "paracetamol",
        "lactulose",
        "glycerol",
        "clotrimazole",
        "miconazole",
        "calamine",
        "zinc oxide",
        "aluminium hydroxide",
        "hydrotalcite",
        "sodium hyaluronate",
        "folic acid",
    }
)
AVOIDED = frozenset(
    {
        "ibuprofen",
        "diclofenac",
        "acetylsalicylic acid",
        "loperamide",
        "pseudoephedrine",
        "phenylephrine",
        "codeine",
    }
)
_LABEL_WARNINGS = ("孕妇禁用", "孕妇及哺乳期妇女禁用", "妊娠晚期妇女禁用", "妊娠期妇女禁用", "孕妇忌用", "孕妇忌服")


def pregnancy_fit(product: Product) -> int:
    """+1: every ingredient is a preferred one; -1: an avoided ingredient or a label warning; else 0."""
    inns = set(product.inns)
    if inns & AVOIDED or any(w in c for c in product.contraindications for w in _LABEL_WARNINGS):
        return -1
    if inns and inns <= PREFERRED:
        return 1
    return 0
