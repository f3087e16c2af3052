/* tokdata.h: generated data tables of the tokenizer (private to libcore/tok*).
 * html_entities.c comes from scripts/gen_html_entities.py (Python's
 * html.entities.html5), spacy_en.c from scripts/gen_spacy_en.py (the spec's
 * spacy_en_tokenizer.json).  Both are committed. */
#ifndef TOKDATA_H
#define TOKDATA_H

struct html_entity {
	const char *name;        /* "amp;", "amp", "AElig" ... sorted by bytes */
	const char *value;       /* UTF-8 */
	int len;                 /* bytes of value */
};
extern const struct html_entity html_entities[];
extern const int html_entities_n;

struct html_charref_fix {    /* numeric references HTML5 remaps (&#128; -> €) */
	unsigned cp;
	const char *value;
	int len;
};
extern const struct html_charref_fix html_invalid_charrefs[];   /* by cp */
extern const int html_invalid_charrefs_n;
extern const unsigned html_invalid_codepoints[];   /* sorted; give "" */
extern const int html_invalid_codepoints_n;

/* spaCy's joined patterns, PCRE2 syntax */
extern const char spacy_prefix_re[], spacy_suffix_re[], spacy_infix_re[],
       spacy_url_re[];

struct spacy_exception {
	const char *key;         /* UTF-8, sorted by bytes */
	int n;                   /* pieces */
	unsigned char len[8];    /* byte length of each piece; they tile key */
};
extern const struct spacy_exception spacy_exceptions[];
extern const int spacy_exceptions_n;
extern const char *const spacy_fastai_specials[];
extern const int spacy_fastai_specials_n;
extern const char *const spacy_matcher_keys[];
extern const int spacy_matcher_keys_n;

#endif
