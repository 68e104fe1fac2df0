/* modeldir.c - model folder and tokenizer resolution (see modeldir.h). */
#include "modeldir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks that p is a folder, naming what is wrong if it is not. */
static int check_dir(const char *p, geb_err *err) {
    struct stat st;
    if (stat(p, &st) != 0) {
        if (errno == ENOENT) return geb_err_set(err, "model folder %s does not exist", p);
        return geb_err_set(err, "model folder %s: %s", p, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return geb_err_set(err, "model path %s is not a folder", p);
    if (access(p, R_OK | X_OK) != 0) return geb_err_set(err, "model folder %s: %s", p, strerror(errno));
    return 0;
}

/* A regular file given as the model means its folder. */
static int file_to_dir(const char *arg, char *dir, size_t cap, geb_err *err) {
    const char *slash = strrchr(arg, '/');
    if (!slash) return snprintf(dir, cap, ".") >= (int)cap ? geb_err_set(err, "path too long") : 0;
    if ((size_t)(slash - arg) + 1 > cap) return geb_err_set(err, "model path too long");
    snprintf(dir, cap, "%.*s", slash == arg ? 1 : (int)(slash - arg), arg);
    return 0;
}

int geb_modeldir_resolve(const char *arg, char *dir, size_t cap, geb_err *err) {
    const char *env = getenv("GEB_MODEL");
    const char *m = arg ? arg : env;
    if (m) {
        if (!*m) return geb_err_set(err, "%s is empty: give a model folder", arg ? "-m" : "GEB_MODEL");
        struct stat st;
        if (stat(m, &st) == 0 && S_ISREG(st.st_mode)) {
            if (file_to_dir(m, dir, cap, err)) return -1;
        } else if (snprintf(dir, cap, "%s", m) >= (int)cap) {
            return geb_err_set(err, "model path too long");
        }
        return check_dir(dir, err);
    }
    if (geb_file_exists("models/geb-tiny")) return snprintf(dir, cap, "models/geb-tiny"), 0;
    char exe[GEB_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            if (snprintf(dir, cap, "%s/models/geb-tiny", exe) < (int)cap && geb_file_exists(dir))
                return 0;
        }
    }
    return geb_err_set(err, "no model given: use -m DIR or set GEB_MODEL");
}

int geb_modeldir_optional(const char *dir, const char *name, char *path, size_t cap) {
    if (snprintf(path, cap, "%s/%s", dir, name) >= (int)cap || !geb_file_exists(path)) {
        path[0] = 0;
        return 0;
    }
    return 1;
}

int geb_modeldir_tokenizer(const char *dir, char *out, size_t cap, geb_err *err) {
    static const char *const names[] = {"tokenizer.model", "GEBtokenizer.model"};
    for (int i = 0; i < 2; i++)
        if (geb_modeldir_optional(dir, names[i], out, cap)) return 0;
    DIR *d = opendir(dir);
    if (!d) return geb_err_set(err, "cannot open model folder %s: %s", dir, strerror(errno));
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".model") == 0) {
            if (found++) break;
            snprintf(out, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    if (found == 1) return 0;
    if (found > 1) return geb_err_set(err, "%s holds several *.model files; name one tokenizer.model", dir);
    return geb_err_set(err, "no tokenizer in %s (tokenizer.model, GEBtokenizer.model or *.model)", dir);
}
