/* modeldir.h - finds a model folder and the files in it.
 *
 * The folder comes from -m, else $GEB_MODEL, else models/geb-tiny (here or
 * next to the binary).  A path to a file inside a folder (a .safetensors or
 * .bin, as llama.cpp users pass a .gguf) means that folder.  The weights
 * themselves are found by the checkpoint reader (safetensors.h), which knows
 * both formats and their index files.
 */
#ifndef GEB_MODELDIR_H
#define GEB_MODELDIR_H

#include "common.h"

#define GEB_PATH_MAX 4096

/* The model folder for the -m argument (NULL: not given) into dir. */
int geb_modeldir_resolve(const char *arg, char *dir, size_t cap, geb_err *err);

/* The SentencePiece model of dir: tokenizer.model, else GEBtokenizer.model,
 * else the only *.model. */
int geb_modeldir_tokenizer(const char *dir, char *path, size_t cap, geb_err *err);

/* dir/name if that file exists, else "" (for optional files: glue code,
 * tokenizer_config.json).  Returns 1 if found. */
int geb_modeldir_optional(const char *dir, const char *name, char *path, size_t cap);

#endif
