"""Offline-first WordNet: nltk's own data if it has WordNet, else a WordNet 3.0 dictionary
directory (Debian's ``wordnet-base``, ``$WNHOME/dict``, or a path you give), copied once into a
cache directory that nltk accepts. Nothing is ever downloaded."""

from __future__ import annotations

import os
import warnings
from functools import cache
from pathlib import Path

from knowledge_graphs.files import write_atomic

#: Files a WordNet dictionary directory must have for nltk to read it.
REQUIRED_FILES: tuple[str, ...] = tuple(
    f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")
) + tuple(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv"))

#: Where a WordNet 3.0 dictionary is looked for, after a path given by the user and $WNHOME.
SYSTEM_LOCATIONS: tuple[str, ...] = (
    "/usr/share/wordnet",
    "/usr/local/share/wordnet",
    "/usr/local/WordNet-3.0/dict",
    "/opt/homebrew/share/wordnet",
)

# The 45 lexicographer files of WordNet 3.0 (its documentation, lexnames(5WN)): nltk reads them
# from a `lexnames` file that the Debian package and some others do not ship.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

_HOW_TO_GET = (
    "Get WordNet 3.0 in one of two ways: (1) with the network, "
    "`python -m nltk.downloader wordnet`; (2) offline, install a WordNet 3.0 dictionary, e.g. "
    "`apt-get install wordnet-base` (Debian/Ubuntu, files in /usr/share/wordnet), or set "
    "WNHOME to a WordNet installation (files in $WNHOME/dict), or pass its path as "
    "load_wordnet(path=...) / --wordnet PATH."
)


class WordNetNotFoundError(FileNotFoundError):
    """No usable WordNet was found; the message says how to get one."""


class WordNetLexicon:
    """:class:`~knowledge_graphs.lexicon.Lexicon` over an nltk WordNet reader (nouns)."""

    def __init__(self, reader: object, source: str) -> None:
        self.reader = reader
        self.source = source
        self._version = f"WordNet {reader.get_version()}"  # type: ignore[attr-defined]

    @property
    def version(self) -> str:
        return self._version

    def synsets(self, lemma: str) -> list[str]:
        return [s.name() for s in self.reader.synsets(lemma, pos="n")]  # type: ignore[attr-defined]

    def has_synset(self, name: str) -> bool:
        try:
            return self.reader.synset(name).pos() == "n"  # type: ignore[attr-defined]
        except Exception:  # nltk raises WordNetError or ValueError for unknown names
            return False

    def morphy(self, word: str) -> str | None:
        return self.reader.morphy(word, "n")  # type: ignore[attr-defined]

    def synset_of_wnid(self, wnid: str) -> str | None:
        """The noun synset of a WordNet id (ImageNet's ``n02084071``: ``n`` and the synset's
        offset in WordNet 3.0's ``data.noun``), or ``None`` where there is none."""
        if len(wnid) != 9 or wnid[0] != "n" or not wnid[1:].isdigit():
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # nltk warns, then returns None
                synset = self.reader.synset_from_pos_and_offset("n", int(wnid[1:]))  # type: ignore[attr-defined]
        except Exception:  # or raises WordNetError, for an offset that is no synset
            return None
        return synset.name() if synset is not None else None

    @cache  # noqa: B019 - one lexicon per process, the cache is the point
    def hypernyms(self, synset: str) -> list[str]:
        s = self.reader.synset(synset)  # type: ignore[attr-defined]
        return [h.name() for h in s.hypernyms() + s.instance_hypernyms()]

    @cache  # noqa: B019
    def part_meronyms(self, synset: str) -> list[str]:
        return [p.name() for p in self.reader.synset(synset).part_meronyms()]  # type: ignore[attr-defined]

    def lemma_names(self, synset: str) -> list[str]:
        return list(self.reader.synset(synset).lemma_names())  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"WordNetLexicon({self.version}, source={self.source!r})"


def default_cache_dir() -> Path:
    """``$ITER_REASONING_CACHE`` or ``$XDG_CACHE_HOME/iterative-reasoning`` (``~/.cache``)."""
    root = os.environ.get("ITER_REASONING_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "iterative-reasoning"


def find_wordnet_dir(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The first WordNet dictionary directory among ``path``, ``$WNHOME/dict`` and the system
    locations. A directory that exists but lacks files raises with the list of what is missing."""
    candidates: list[Path] = []
    if path is not None:
        candidates.append(Path(path))
    if os.environ.get("WNHOME"):
        candidates.append(Path(os.environ["WNHOME"]) / "dict")
    candidates.extend(Path(p) for p in SYSTEM_LOCATIONS)
    for i, directory in enumerate(candidates):
        given = path is not None and i == 0
        if not directory.is_dir():
            if given:
                raise WordNetNotFoundError(f"WordNet directory {str(directory)!r} does not exist")
            continue
        missing = [f for f in REQUIRED_FILES if not (directory / f).is_file()]
        if not missing:
            return directory
        if given or (directory / "data.noun").exists():
            raise WordNetNotFoundError(
                f"WordNet directory {str(directory)!r} is partial: it lacks {missing}. "
                + _HOW_TO_GET
            )
    return None


def load_wordnet(
    path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_nltk_data: bool = True,
) -> WordNetLexicon:
    """WordNet, offline.

    1. nltk's own WordNet, if its data directories have it (and ``path`` is not given);
    2. otherwise a WordNet 3.0 dictionary directory (``path``, ``$WNHOME/dict``,
       ``/usr/share/wordnet``, ...), copied once into ``cache_dir/nltk_data/corpora/wordnet``
       with the ``lexnames`` file nltk needs generated, and read from there (nltk refuses
       paths outside its data directories).

    Args:
        path: a WordNet dictionary directory to use.
        cache_dir: where the copy goes (:func:`default_cache_dir` by default).
        use_nltk_data: look in nltk's data directories first.

    Raises:
        WordNetNotFoundError: no WordNet anywhere, or a partial or unreadable directory; the
            message names both ways to get it.
    """
    import nltk

    if path is None and use_nltk_data:
        reader = _nltk_wordnet()
        if reader is not None:
            return WordNetLexicon(reader, "nltk data")
    directory = find_wordnet_dir(path)
    if directory is None:
        raise WordNetNotFoundError("No WordNet found. " + _HOW_TO_GET)
    data_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    data_root = data_root / "nltk_data"
    target = data_root / "corpora" / "wordnet"
    _copy_dictionary(directory, target)
    if str(data_root) not in nltk.data.path:
        nltk.data.path.append(str(data_root))
    try:
        reader = _reader(nltk.data.FileSystemPathPointer(str(target)))
    except Exception as error:  # unreadable files: say which directory and how to fix it
        raise WordNetNotFoundError(
            f"WordNet in {str(directory)!r} (copied to {str(target)!r}) could not be read: "
            f"{error}. " + _HOW_TO_GET
        ) from error
    return WordNetLexicon(reader, str(directory))


def _nltk_wordnet() -> object | None:
    import nltk

    try:
        pointer = nltk.data.find("corpora/wordnet")
    except LookupError:
        try:
            pointer = nltk.data.find("corpora/wordnet.zip/wordnet/")
        except LookupError:
            return None
    try:
        return _reader(pointer)
    except Exception:
        return None


def _reader(pointer: object) -> object:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class OfflineWordNetReader(WordNetCorpusReader):
        """English WordNet only: no mapping to other WordNet versions (which needs
        ``index.sense``, a file the Debian package lacks)."""

        def map_wn(self, version: str = "wordnet") -> None:
            return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return OfflineWordNetReader(pointer, None)


def _copy_dictionary(source: Path, target: Path) -> None:
    """Copy the dictionary files once (skipped when the copy is complete and not older)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in REQUIRED_FILES:
        src, dst = source / name, target / name
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            write_atomic(dst, src.read_bytes())
    lexnames = target / "lexnames"
    if (source / "lexnames").is_file():
        write_atomic(lexnames, (source / "lexnames").read_bytes())
    elif not lexnames.exists():
        lines = [
            f"{i:02d}\t{name}\t{_SYNTACTIC_CATEGORY[name.split('.')[0]]}\n"
            for i, name in enumerate(_LEXNAMES)
        ]
        write_atomic(lexnames, "".join(lines))
