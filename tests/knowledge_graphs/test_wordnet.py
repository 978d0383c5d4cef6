import pytest
from lexicons import copy_wordnet

from knowledge_graphs import wordnet as wn
from knowledge_graphs.wordnet import WordNetNotFoundError, find_wordnet_dir, load_wordnet


def test_real_wordnet_loads_offline_with_generated_lexnames(wordnet, tmp_path):
    assert wordnet.version == "WordNet 3.0"
    assert wordnet.hypernyms("car.n.01") == ["motor_vehicle.n.01"]
    assert "wheel.n.01" in wordnet.part_meronyms("wheeled_vehicle.n.01")
    assert wordnet.morphy("feet") == "foot"
    assert wordnet.synsets("street_lamp") == ["streetlight.n.01"]
    assert wordnet.has_synset("tree.n.01") and not wordnet.has_synset("tree.n.99")
    assert wordnet.hypernyms("paris.n.01") == ["national_capital.n.01"]  # instance hypernym


def test_the_copy_is_made_once_and_reused(tmp_path):
    source = tmp_path / "dict"
    copy_wordnet(source)
    cache = tmp_path / "cache"
    load_wordnet(source, cache_dir=cache)
    lexnames = cache / "nltk_data" / "corpora" / "wordnet" / "lexnames"
    assert lexnames.read_text().splitlines()[6] == "06\tnoun.artifact\t1"
    stamp = (cache / "nltk_data" / "corpora" / "wordnet" / "data.noun").stat().st_mtime_ns
    again = load_wordnet(source, cache_dir=cache)
    assert (cache / "nltk_data" / "corpora" / "wordnet" / "data.noun").stat().st_mtime_ns == stamp
    assert again.synsets("dog")[0] == "dog.n.01"


def test_partial_directory_names_the_missing_files(tmp_path):
    source = tmp_path / "dict"
    copy_wordnet(source)
    (source / "index.verb").unlink()
    (source / "noun.exc").unlink()
    with pytest.raises(
        WordNetNotFoundError, match=r"partial: it lacks \['index.verb', 'noun.exc'\]"
    ):
        load_wordnet(source, cache_dir=tmp_path / "cache")


def test_unreadable_directory_is_a_clear_error(tmp_path):
    source = tmp_path / "dict"
    copy_wordnet(source)
    (source / "index.noun").write_text("this is not\nwordnet\n")
    with pytest.raises(WordNetNotFoundError, match="could not be read"):
        load_wordnet(source, cache_dir=tmp_path / "cache")


def test_no_wordnet_anywhere_says_both_ways_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(wn, "SYSTEM_LOCATIONS", ())
    monkeypatch.delenv("WNHOME", raising=False)
    assert find_wordnet_dir() is None
    with pytest.raises(WordNetNotFoundError) as error:
        load_wordnet(cache_dir=tmp_path, use_nltk_data=False)
    message = str(error.value)
    assert "nltk.downloader wordnet" in message and "apt-get install wordnet-base" in message
    with pytest.raises(WordNetNotFoundError, match="does not exist"):
        load_wordnet(tmp_path / "missing", cache_dir=tmp_path)


def test_wnhome_is_honoured(tmp_path, monkeypatch):
    copy_wordnet(tmp_path / "wn" / "dict")
    monkeypatch.setattr(wn, "SYSTEM_LOCATIONS", ())
    monkeypatch.setenv("WNHOME", str(tmp_path / "wn"))
    assert find_wordnet_dir() == tmp_path / "wn" / "dict"
