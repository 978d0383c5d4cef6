import pytest
from lexicons import tiny_lexicon


@pytest.fixture
def lexicon():
    return tiny_lexicon()
