-- 0003: document counts per indexed term (Porter stems), read before a keyword search to leave out words
-- too common to be worth scoring (see voice_letta/store/fts.py). fts5vocab tables store nothing themselves.
CREATE VIRTUAL TABLE passages_vocab USING fts5vocab(passages_fts, 'row');
CREATE VIRTUAL TABLE messages_vocab USING fts5vocab(messages_fts, 'row');
