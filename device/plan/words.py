"""A reading-level check for text a gym member reads: short sentences, no trainer's jargon.

    check_member_text("Hold 30 seconds, each side.")      -> []
    check_member_text("Foam roll the TFL, tempo 4-2-1.")   -> ['jargon "TFL" in: ...', ...]
    check_member_text("Dehne die Adduktoren.", lang="de")  -> ['jargon "Adduktor" in: ...']
    member_texts(plan)                                      -> every member-facing string of a plan

The jargon list holds the trainer's words (muscle names, the corrective continuum's phase names,
tempo notation) and the engineer's words (keypoints, thresholds) that a member page must not
show. Technical names stay in the trainer-facing fields (docs/formats.md, `ohsa-plan/1`).
"""

from __future__ import annotations

import re

MAX_SENTENCE_WORDS = 20

# Matched as whole words, case-insensitively, with an optional plural "s".
JARGON = (
    # the corrective continuum and dosing notation
    "SMR", "self-myofascial", "myofascial", "inhibit", "inhibition", "integrate", "integration",
    "tempo", "4-2-1", "isolated strengthening", "static stretching", "activation",
    # muscles and structures
    "TFL", "tensor fasciae latae", "fasciae", "iliotibial", "IT band", "piriformis",
    "gastrocnemius", "gastroc", "soleus", "tibialis", "peroneal", "peroneals", "fibularis",
    "adductor", "abductor", "abduction", "adduction", "gluteus", "glute med", "biceps femoris",
    "quadriceps", "rectus femoris", "rectus abdominis", "vastus", "psoas", "iliopsoas",
    "hip flexor", "erector spinae", "latissimus", "lats", "pectoralis", "pecs", "trapezius",
    "traps", "rhomboid", "levator", "levator scapulae", "scapula", "scapulae", "sternocleidomastoid",
    "scalene", "thoracic", "cervical", "lumbar", "lumbo-pelvic", "sacroiliac", "infraspinatus",
    "teres", "rotator cuff", "multifidus", "transversus", "oblique", "intrinsic", "gracilis",
    "sartorius", "popliteus", "Achilles", "plantar", "fascia", "sciatic",
    # movement science
    "valgus", "varus", "pronation", "supination", "dorsiflexion", "plantarflexion", "eversion",
    "inversion", "sagittal", "frontal plane", "kyphosis", "lordosis", "neuromuscular",
    "proprioception", "contraindication", "contraindicated", "overactive", "underactive",
    "compensation", "impingement", "prone", "supine", "quadruped", "unilateral", "bilateral",
    # the engineer's words
    "MoveNet", "keypoint", "keypoints", "threshold", "not_assessed", "confidence interval",
)

# German (device/plan/library.de.toml, the catalogue): a minimal list of the trainer's words, matched
# as the start of a word (German compounds and endings: "Adduktoren", "Faszienrolle").
JARGON_DE = (
    "Adduktor", "Abduktor", "Faszie", "myofaszial", "Pronation", "Supination", "Valgus", "Varus",
    "Dorsalflexion", "Plantarflexion", "Kompensation", "Kontraindikation", "Propriozeption",
    "Piriformis", "Tensor", "Gastrocnemius", "Soleus", "Tibialis", "Peroneus", "Gluteus", "Psoas",
    "Iliopsoas", "Latissimus", "Trapezius", "Pectoralis", "Rhomboid", "Skapula", "thorakal",
    "lumbal", "zervikal", "Kyphose", "Lordose", "neuromuskulär", "hyperaktiv", "hypoaktiv",
    "Keypoint", "Schwellenwert", "MoveNet", "Tempo",
)

_JARGON_RE = [(term, re.compile(r"(?<![\w-])" + re.escape(term) + r"(?:s|es)?(?![\w-])", re.I))
              for term in JARGON]
_JARGON_DE_RE = [(term, re.compile(r"(?<![\w-])" + re.escape(term), re.I)) for term in JARGON_DE]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+|;\s+")
_WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")


def sentences(text: str) -> list[str]:
    """The sentences of `text` (split at . ! ? ; and line breaks), stripped, none empty."""
    return [s.strip() for s in _SENTENCE_END.split(text or "") if s.strip()]


def word_count(sentence: str) -> int:
    return len(_WORD.findall(sentence))


def jargon_in(text: str, lang: str = "en") -> list[str]:
    """The jargon terms found in `text`, in list order (each once)."""
    table = _JARGON_DE_RE if lang == "de" else _JARGON_RE
    return [term for term, rx in table if rx.search(text or "")]


def check_member_text(text: str, max_words: int = MAX_SENTENCE_WORDS, lang: str = "en") -> list[str]:
    """Problems with a member-facing text: long sentences and jargon; [] when it reads plainly.
    The reading-level rule (sentence length) is set for English; German gets the same limit."""
    problems = []
    for s in sentences(text):
        n = word_count(s)
        if n > max_words:
            problems.append(f"sentence of {n} words (at most {max_words}): {s!r}")
    for term in jargon_in(text, lang):
        problems.append(f"jargon {term!r} in: {text!r}")
    return problems


# The member-facing keys of an `ohsa-plan/1` (docs/formats.md); everything else is for trainers.
PLAN_MEMBER_KEYS = ("message", "notes", "disclaimer")
PHASE_MEMBER_KEYS = ("member_label", "member_purpose")
EXERCISE_MEMBER_KEYS = ("member_name", "cue", "dose_text", "side_text", "contraindications")


def member_texts(plan: dict) -> list[str]:
    """Every string of a plan that a member reads (page, print, take-home text)."""
    out: list[str] = []

    def add(v) -> None:
        if isinstance(v, str) and v.strip():
            out.append(v)
        elif isinstance(v, (list, tuple)):
            for item in v:
                add(item)

    for key in PLAN_MEMBER_KEYS:
        add(plan.get(key))
    add((plan.get("schedule") or {}).get("text"))
    for item in plan.get("glossary") or []:
        add(item.get("meaning"))
    for phase in plan.get("phases") or []:
        for key in PHASE_MEMBER_KEYS:
            add(phase.get(key))
        for ex in phase.get("exercises") or []:
            for key in EXERCISE_MEMBER_KEYS:
                add(ex.get(key))
    return out
