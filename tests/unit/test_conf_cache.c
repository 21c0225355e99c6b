/* test_conf_cache.c - the cached events of a large YAML file
 * (runner/conf/conf_cache.h) are the events libyaml gave, as crun's reader sees
 * them; a cache is only used for the version of the file it was made from,
 * never when damaged; and a large file is read from its cache, making one
 * when it has none. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "conf/conf.h"
#include "yaml_events_test.h"
/* The whole of it, for its header layout and checksum: the tests forge
 * cache files byte by byte as a person with a text editor could. */
#include "conf/conf_cache.c"
#include "fixture.h"

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* A big YAML file of 20,000 nodes (and a broken one), made once for all
 * tests and aged past the two seconds after which they may be cached. */
typedef struct big_file {
    char dir[FIXTURE_DIR_SIZE];
    char path[160], cache[160];
    char broken[160], broken_cache[160];
    char *text;
    size_t len;
} big_file;

static conf_cache_writer *create(const char *path, const struct stat *source)
{
    struct timespec now;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &now), 0);
    return conf_cache_create(path, source, &now);
}

static int group_setup(void **state)
{
    big_file *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    assert_int_equal(fixture_tmpdir(b->dir, "conf-cache"), 0);
    snprintf(b->path, sizeof(b->path), "%s/big.yml", b->dir);
    snprintf(b->cache, sizeof(b->cache), "%s/.crun/cache/conf/base/big.yml.events", b->dir);
    b->text = nodes_text(20000, "", &b->len);
    assert_true(b->len >= CONF_CACHE_MIN_TEXT);
    write_text(b->path, b->text, b->len);
    snprintf(b->broken, sizeof(b->broken), "%s/broken.yml", b->dir);
    snprintf(b->broken_cache, sizeof(b->broken_cache), "%s/broken.yml.events", b->dir);
    size_t len;
    char *broken = nodes_text(20000, "      - {name: broken\n", &len);
    write_text(b->broken, broken, len);
    free(broken);
    sleep(3);
    *state = b;
    return 0;
}

static int group_teardown(void **state)
{
    big_file *b = *state;
    assert_int_equal(fixture_rmtree(b->dir), 0);
    free(b->text);
    free(b);
    return 0;
}

typedef struct fixture {
    char dir[FIXTURE_DIR_SIZE];
    char cache[128];
    struct stat old; /* a file's stat, its times an hour ago */
    big_file *big;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->big = *state;
    assert_int_equal(fixture_tmpdir(f->dir, "conf-cache"), 0);
    snprintf(f->cache, sizeof(f->cache), "%s/cache/conf/base/x.yml.events", f->dir);
    assert_int_equal(stat(f->dir, &f->old), 0);
    f->old.st_size = 12345;
    f->old.st_mtim.tv_sec = f->old.st_ctim.tv_sec = time(NULL) - 3600;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(fixture_rmtree(f->dir), 0);
    *state = f->big;
    free(f);
    return 0;
}

/* Cache every event of text (which must be valid YAML) for source. */
static void write_cache(const char *path, const struct stat *source, const char *text, size_t len)
{
    conf_cache_writer *w = create(path, source);
    assert_non_null(w);
    yaml_parser_t parser;
    assert_true(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (bool end = false; !end;) {
        yaml_event_t ev;
        assert_true(yaml_parser_parse(&parser, &ev));
        conf_cache_put(w, &ev);
        end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    conf_cache_finish(w, true);
}

/* Cache text's events, read them back, compare them with libyaml's:
 * returns how many there were. */
static size_t round_trip(const fixture *f, const char *text, size_t len)
{
    write_cache(f->cache, &f->old, text, len);
    conf_cache_reader *r = conf_cache_open(f->cache, &f->old);
    assert_non_null(r);
    yaml_parser_t parser;
    assert_true(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    size_t n = 0;
    for (bool end = false; !end; n++) {
        yaml_event_t want, got;
        assert_true(yaml_parser_parse(&parser, &want));
        assert_true(conf_cache_next(r, &got));
        assert_same_event(&want, &got, false);
        end = want.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&want);
    }
    yaml_event_t after;
    assert_false(conf_cache_next(r, &after));
    yaml_parser_delete(&parser);
    conf_cache_close(r);
    return n;
}

static void test_events_come_back_as_libyaml_gave_them(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof(valid_yaml_texts) / sizeof(valid_yaml_texts[0]); i++)
        round_trip(f, valid_yaml_texts[i], strlen(valid_yaml_texts[i]));

    /* many blocks of records; lines far apart and going back (a key after a
     * long block scalar) */
    size_t len;
    char *text = nodes_text(30000, "  last: |\n    a\n    b\n", &len);
    assert_int_equal(round_trip(f, text, len), 30000 * 12 + 17);
    free(text);

    /* a scalar larger than a block of records */
    size_t big = 300 * 1024;
    text = malloc(big + 64);
    assert_non_null(text);
    memcpy(text, "a: &x \"", 7);
    memset(text + 7, 'v', big);
    memcpy(text + 7 + big, "\"\nb: *x\n", 9);
    round_trip(f, text, strlen(text));
    free(text);
}

/* Lines may go back as well as forward from one event to the next; big
 * lines and columns keep every digit. */
static void test_positions_in_any_order(void **state)
{
    fixture *f = *state;
    static const size_t lines[] = {5, 2, 1000000, 0, 4000000000u, 3};
    static const size_t columns[] = {0, 7, 123456, 1, 2, 99};
    conf_cache_writer *w = create(f->cache, &f->old);
    assert_non_null(w);
    for (size_t i = 0; i < 6; i++) {
        yaml_event_t ev;
        assert_true(yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)"v", 1, 1,
                                                 1, YAML_PLAIN_SCALAR_STYLE));
        ev.start_mark.line = lines[i];
        ev.start_mark.column = columns[i];
        conf_cache_put(w, &ev);
        yaml_event_delete(&ev);
    }
    conf_cache_finish(w, true);
    conf_cache_reader *r = conf_cache_open(f->cache, &f->old);
    assert_non_null(r);
    for (size_t i = 0; i < 6; i++) {
        yaml_event_t ev;
        assert_true(conf_cache_next(r, &ev));
        assert_int_equal(ev.start_mark.line, lines[i]);
        assert_int_equal(ev.start_mark.column, columns[i]);
    }
    conf_cache_close(r);
}

static void test_a_cache_is_for_one_version_of_one_file(void **state)
{
    fixture *f = *state;
    write_cache(f->cache, &f->old, "a: 1\n", 5);
    conf_cache_reader *r = conf_cache_open(f->cache, &f->old);
    assert_non_null(r);
    conf_cache_close(r);
    struct stat other[6];
    for (int i = 0; i < 6; i++)
        other[i] = f->old;
    other[0].st_size++;
    other[1].st_ino++;
    other[2].st_dev++;
    other[3].st_mtim.tv_nsec++;
    other[4].st_mtim.tv_sec--;
    other[5].st_ctim.tv_nsec++;
    for (int i = 0; i < 6; i++)
        assert_null(conf_cache_open(f->cache, &other[i]));
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/none.events", f->dir);
    assert_null(conf_cache_open(missing, &f->old));
}

static long file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long)st.st_size;
}

/* Change the byte at offset (negative: from the end) of the file. */
static void flip_byte(const char *path, long offset)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, offset, offset < 0 ? SEEK_END : SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_not_equal(c, EOF);
    assert_int_equal(fseek(fp, -1, SEEK_CUR), 0);
    fputc(c ^ 0x20, fp);
    fclose(fp);
}

static void test_damaged_caches_are_not_used(void **state)
{
    fixture *f = *state;
    size_t len;
    char *text = nodes_text(1000, "", &len);
    long whole = 0;
    for (int damage = 0; damage < 6; damage++) {
        write_cache(f->cache, &f->old, text, len);
        whole = file_size(f->cache);
        switch (damage) {
        case 0: /* a record's byte in the middle */
            flip_byte(f->cache, whole / 2);
            break;
        case 1: /* the last byte */
            flip_byte(f->cache, -1);
            break;
        case 2: /* the magic */
            flip_byte(f->cache, 0);
            break;
        case 3: /* cut short */
            assert_int_equal(truncate(f->cache, whole - 1), 0);
            break;
        case 4: /* something after the end */
            assert_int_equal(truncate(f->cache, whole + 1), 0);
            break;
        default: /* nothing but part of the header */
            assert_int_equal(truncate(f->cache, 20), 0);
            break;
        }
        assert_null(conf_cache_open(f->cache, &f->old));
    }
    free(text);
}

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_recent_files_and_dropped_caches_leave_nothing(void **state)
{
    fixture *f = *state;
    struct stat recent = f->old;
    recent.st_mtim.tv_sec = time(NULL);
    assert_null(create(f->cache, &recent));
    recent = f->old;
    recent.st_ctim.tv_sec = time(NULL) - 1; /* metadata changed a second ago */
    assert_null(create(f->cache, &recent));
    conf_cache_finish(NULL, true);

    /* the folders are made; a dropped cache leaves no file behind */
    conf_cache_writer *w = create(f->cache, &f->old);
    assert_non_null(w);
    yaml_event_t ev;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    conf_cache_put(w, &ev);
    yaml_event_delete(&ev);
    conf_cache_finish(w, false);
    char folder[128];
    snprintf(folder, sizeof(folder), "%s/cache/conf/base", f->dir);
    assert_int_equal(files_in(folder), 0);
    assert_null(conf_cache_open(f->cache, &f->old));
}

static char *tree_json(const conf_node *root)
{
    json_t *j = conf_to_json(root);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    return s;
}

static int parse_big(const big_file *b, conf_pool *pool, conf_node **root, crun_error *err)
{
    return conf_parse_file_stream(pool, b->path, "conf/base/big.yml", b->cache, NULL, root, err);
}

/* Run last: it changes the big file. */
static void test_a_large_file_is_read_from_its_cache(void **state)
{
    fixture *f = *state;
    big_file b = *f->big;
    unlink(b.cache); /* what an earlier test left */
    conf_pool *pool = conf_pool_new();
    crun_error err = CRUN_ERROR_INIT;

    /* the first read makes the cache; the second gives the same tree and
     * the same positions */
    conf_node *cold = NULL, *warm = NULL;
    assert_int_equal(parse_big(&b, pool, &cold, &err), 0);
    struct stat source;
    assert_int_equal(stat(b.path, &source), 0);
    conf_cache_reader *r = conf_cache_open(b.cache, &source);
    assert_non_null(r);
    conf_cache_close(r);
    assert_int_equal(parse_big(&b, pool, &warm, &err), 0);
    char *a = tree_json(cold), *w = tree_json(warm);
    assert_string_equal(a, w);
    free(a);
    free(w);
    const conf_node *nodes = conf_get(conf_get(conf_get(warm, "pipelines"), "__default__"),
                                      "nodes");
    assert_non_null(nodes);
    assert_int_equal(nodes->items[19999]->line, 20003);
    assert_int_equal(nodes->items[19999]->col, 9);
    assert_int_equal(conf_get(nodes->items[19999], "outputs")->col, 64);
    const conf_node *was = conf_get(conf_get(conf_get(cold, "pipelines"), "__default__"), "nodes");
    for (size_t i = 0; i < nodes->n; i += 997) {
        assert_int_equal(nodes->items[i]->line, was->items[i]->line);
        assert_int_equal(conf_get(nodes->items[i], "inputs")->col,
                         conf_get(was->items[i], "inputs")->col);
    }
    conf_free(cold);
    conf_free(warm);

    /* the events really come from the cache: one made from other text for
     * this very file is what is read */
    write_cache(b.cache, &source, "forged: {from: cache}\n", 22);
    assert_int_equal(parse_big(&b, pool, &warm, &err), 0);
    assert_string_equal(conf_get(conf_get(warm, "forged"), "from")->str, "cache");
    conf_free(warm);

    /* a cache whose events are not a YAML document (a MAPPING-END first)
     * is an error, not a crash, and so is one that ends too soon */
    for (int i = 0; i < 2; i++) {
        conf_cache_writer *cw = create(b.cache, &source);
        assert_non_null(cw);
        yaml_event_t ev;
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        conf_cache_put(cw, &ev);
        yaml_event_delete(&ev);
        if (i == 0) {
            yaml_mapping_end_event_initialize(&ev);
            conf_cache_put(cw, &ev);
            yaml_event_delete(&ev);
        }
        conf_cache_finish(cw, true);
        assert_int_not_equal(parse_big(&b, pool, &warm, &err), 0);
        assert_null(warm);
        assert_non_null(strstr(err.message, "conf/base/big.yml"));
        if (i == 1)
            assert_non_null(strstr(err.message, "does not decode"));
        crun_error_clear(&err);
    }

    /* a damaged cache is ignored: the file is read, and cached again */
    write_cache(b.cache, &source, b.text, b.len);
    flip_byte(b.cache, file_size(b.cache) / 2);
    assert_int_equal(parse_big(&b, pool, &warm, &err), 0);
    assert_int_equal(conf_get(conf_get(conf_get(warm, "pipelines"), "__default__"), "nodes")->n,
                     20000);
    conf_free(warm);
    assert_non_null(r = conf_cache_open(b.cache, &source));
    conf_cache_close(r);

    /* a changed file is read again, not taken from the cache */
    memcpy(strstr(b.text, "{name: n7,"), "{name: m7,", 10);
    write_text(b.path, b.text, b.len);
    assert_int_equal(parse_big(&b, pool, &warm, &err), 0);
    nodes = conf_get(conf_get(conf_get(warm, "pipelines"), "__default__"), "nodes");
    assert_string_equal(conf_get(nodes->items[7], "name")->str, "m7");
    conf_free(warm);

    conf_pool_free(pool);
}

/* One event of a random sequence: any type, a few anchors and texts, so
 * that aliases, merge keys and nulls come up as well as broken nesting. */
static void random_event(yaml_event_t *ev, unsigned *seed)
{
    static const char *const texts[] = {"a", "b", "<<", "", "null", "x"};
    const yaml_char_t *text = (const yaml_char_t *)texts[rand_r(seed) % 6];
    const yaml_char_t *anchor = rand_r(seed) % 4 == 0 ? text : NULL;
    const yaml_char_t *tag = rand_r(seed) % 8 == 0 ? (const yaml_char_t *)YAML_STR_TAG : NULL;
    int ok = 0;
    switch (YAML_STREAM_START_EVENT + rand_r(seed) % 10) {
    case YAML_STREAM_START_EVENT:
        ok = yaml_stream_start_event_initialize(ev, YAML_UTF8_ENCODING);
        break;
    case YAML_STREAM_END_EVENT:
        ok = yaml_stream_end_event_initialize(ev);
        break;
    case YAML_DOCUMENT_START_EVENT:
        ok = yaml_document_start_event_initialize(ev, NULL, NULL, NULL, 1);
        break;
    case YAML_DOCUMENT_END_EVENT:
        ok = yaml_document_end_event_initialize(ev, 1);
        break;
    case YAML_ALIAS_EVENT:
        ok = yaml_alias_event_initialize(ev, text);
        break;
    case YAML_SCALAR_EVENT:
        ok = yaml_scalar_event_initialize(ev, anchor, tag, text, -1, 1, 1,
                                          rand_r(seed) % 2 ? YAML_PLAIN_SCALAR_STYLE
                                                           : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
        break;
    case YAML_SEQUENCE_START_EVENT:
        ok = yaml_sequence_start_event_initialize(ev, anchor, tag, 1, YAML_FLOW_SEQUENCE_STYLE);
        break;
    case YAML_SEQUENCE_END_EVENT:
        ok = yaml_sequence_end_event_initialize(ev);
        break;
    case YAML_MAPPING_START_EVENT:
        ok = yaml_mapping_start_event_initialize(ev, anchor, tag, 1, YAML_FLOW_MAPPING_STYLE);
        break;
    default:
        ok = yaml_mapping_end_event_initialize(ev);
        break;
    }
    assert_true(ok);
    ev->start_mark.line = (size_t)(rand_r(seed) % 50);
    ev->start_mark.column = (size_t)(rand_r(seed) % 80);
}

/* Whatever events a cache holds (it may have been written by hand with a
 * matching checksum), reading it ends in a tree or an error, never a crash
 * or a leak: AddressSanitizer watches this test in CI. */
static void test_any_cached_events_read_safely(void **state)
{
    fixture *f = *state;
    const big_file *b = f->big;
    struct stat source;
    assert_int_equal(stat(b->path, &source), 0);
    conf_pool *pool = conf_pool_new();
    unsigned seed = 20261123;
    size_t trees = 0;
    for (int round = 0; round < 1000; round++) {
        conf_cache_writer *w = create(b->cache, &source);
        assert_non_null(w);
        /* mostly well begun, so that the reader gets past the start */
        yaml_event_t ev;
        int n = 1 + rand_r(&seed) % 40;
        for (int i = 0; i < n + 3; i++) {
            if (i == 0 && rand_r(&seed) % 8)
                yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
            else if (i == 1 && rand_r(&seed) % 8)
                yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
            else if (i == 2 && rand_r(&seed) % 4)
                yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
            else
                random_event(&ev, &seed);
            conf_cache_put(w, &ev);
            yaml_event_delete(&ev);
        }
        conf_cache_finish(w, true);
        conf_node *root = NULL;
        crun_error err = CRUN_ERROR_INIT;
        if (parse_big(b, pool, &root, &err) == 0) {
            trees++;
            conf_free(root);
        } else {
            assert_null(root);
            assert_non_null(strstr(err.message, "conf/base/big.yml"));
        }
        crun_error_clear(&err);
    }
    assert_true(trees > 0);
    conf_pool_free(pool);
}

/* A cache file for source holding exactly these record bytes, with a
 * right header and checksum. */
static void forge(const char *path, const struct stat *source, const unsigned char *bytes,
                  size_t len)
{
    header h;
    describe_source(&h, source);
    h.events_len = len;
    size_t whole = len & ~(size_t)(BLOCK - 1);
    checksum c;
    checksum_init(&c);
    checksum_blocks(&c, bytes, whole);
    h.checksum = checksum_end(&c, bytes + whole, len - whole, len);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(&h, sizeof(h), 1, fp), 1);
    if (len)
        assert_int_equal(fwrite(bytes, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* How many events the forged records give before conf_cache_next stops. */
static int decoded(const fixture *f, const unsigned char *bytes, size_t len)
{
    forge(f->cache, &f->old, bytes, len);
    conf_cache_reader *r = conf_cache_open(f->cache, &f->old);
    assert_non_null(r);
    int n = 0;
    yaml_event_t ev;
    while (conf_cache_next(r, &ev))
        n++;
    conf_cache_close(r);
    return n;
}

static void test_forged_records_never_read_past_their_end(void **state)
{
    fixture *f = *state;
    assert_int_equal(crun_mkdir_parents(f->cache, NULL), 0);
    enum { SCALAR = YAML_SCALAR_EVENT, PLAIN = YAML_PLAIN_SCALAR_STYLE };
    /* a good scalar, "abc" at line 0, column 0 */
    static const unsigned char good[] = {SCALAR, PLAIN, 0, 0, 3, 'a', 'b', 'c', 0};
    assert_int_equal(decoded(f, good, sizeof(good)), 1);
    /* a length past the end; no NUL after the value; the record cut short */
    static const unsigned char too_long[] = {SCALAR, PLAIN, 0, 0, 100, 'a', 'b', 'c', 0};
    static const unsigned char no_nul[] = {SCALAR, PLAIN, 0, 0, 3, 'a', 'b', 'c', 'd'};
    assert_int_equal(decoded(f, too_long, sizeof(too_long)), 0);
    assert_int_equal(decoded(f, no_nul, sizeof(no_nul)), 0);
    for (size_t cut = 1; cut < sizeof(good); cut++)
        assert_int_equal(decoded(f, good, cut), 0);
    /* an anchor or tag past the end, an alias without its anchor, a varint
     * that never ends, types that do not exist */
    static const unsigned char anchor[] = {SCALAR | ANCHOR, PLAIN, 0, 0, 9, 'x', 0};
    static const unsigned char tag[] = {YAML_MAPPING_START_EVENT | TAG, 0, 0, 0, 2, 'x', 'y'};
    static const unsigned char alias[] = {YAML_ALIAS_EVENT, 0, 0};
    static const unsigned char varint[] = {SCALAR, PLAIN, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const unsigned char none[] = {YAML_NO_EVENT, 0, 0};
    static const unsigned char eleven[] = {11, 0, 0};
    assert_int_equal(decoded(f, anchor, sizeof(anchor)), 0);
    assert_int_equal(decoded(f, tag, sizeof(tag)), 0);
    assert_int_equal(decoded(f, alias, sizeof(alias)), 0);
    assert_int_equal(decoded(f, varint, sizeof(varint)), 0);
    assert_int_equal(decoded(f, none, sizeof(none)), 0);
    assert_int_equal(decoded(f, eleven, sizeof(eleven)), 0);
    assert_int_equal(decoded(f, good, 0), 0);

    /* random bytes, biased towards small numbers so that records form, each
     * in a heap block of their exact size: AddressSanitizer sees any read
     * past the end (decoded straight from memory, as from the mapping) */
    unsigned seed = 7;
    for (int round = 0; round < 100000; round++) {
        size_t len = 1 + (size_t)(rand_r(&seed) % 255);
        unsigned char *bytes = malloc(len);
        assert_non_null(bytes);
        for (size_t i = 0; i < len; i++)
            bytes[i] = (unsigned char)(rand_r(&seed) % 4 ? rand_r(&seed) % 12 : rand_r(&seed));
        conf_cache_reader r = {.at = bytes, .end = bytes + len};
        yaml_event_t ev;
        while (conf_cache_next(&r, &ev))
            if (ev.type == YAML_SCALAR_EVENT)
                assert_int_equal(strlen((const char *)ev.data.scalar.value) <=
                                     ev.data.scalar.length, 1);
        free(bytes);
    }
}

static void test_forged_caches_of_a_real_file_read_safely(void **state)
{
    fixture *f = *state;
    const big_file *b = f->big;
    struct stat source;
    assert_int_equal(stat(b->path, &source), 0);
    assert_int_equal(crun_mkdir_parents(b->cache, NULL), 0);
    conf_pool *pool = conf_pool_new();
    unsigned seed = 11;
    unsigned char bytes[512];
    for (int round = 0; round < 1000; round++) {
        /* a good start (STREAM-START, DOCUMENT-START, MAPPING-START), then noise */
        size_t len = 0;
        bytes[len++] = YAML_STREAM_START_EVENT;
        bytes[len++] = YAML_UTF8_ENCODING;
        bytes[len++] = 0;
        bytes[len++] = 0;
        bytes[len++] = YAML_DOCUMENT_START_EVENT | IMPLICIT;
        bytes[len++] = 0;
        bytes[len++] = 0;
        size_t n = len + (size_t)(rand_r(&seed) % (int)(sizeof(bytes) - len));
        while (len < n)
            bytes[len++] = (unsigned char)(rand_r(&seed) % 4 ? rand_r(&seed) % 12 : rand_r(&seed));
        forge(b->cache, &source, bytes, len);
        conf_node *root = NULL;
        crun_error err = CRUN_ERROR_INIT;
        int rc = parse_big(b, pool, &root, &err);
        if (rc == 0) {
            conf_free(root);
        } else {
            assert_null(root);
            assert_non_null(strstr(err.message, "conf/base/big.yml"));
        }
        crun_error_clear(&err);
    }
    unlink(b->cache);
    conf_pool_free(pool);
}

static void test_a_file_that_fails_to_read_is_not_cached(void **state)
{
    fixture *f = *state;
    const big_file *b = f->big;
    conf_pool *pool = conf_pool_new();
    conf_node *root = NULL;
    crun_error err = CRUN_ERROR_INIT;
    for (int i = 0; i < 2; i++) {
        assert_int_not_equal(conf_parse_file_stream(pool, b->broken, "conf/base/broken.yml",
                                                    b->broken_cache, NULL, &root, &err),
                             0);
        assert_non_null(strstr(err.message, "conf/base/broken.yml:20005:1:"));
        crun_error_clear(&err);
        assert_int_equal(access(b->broken_cache, F_OK), -1);
    }
    conf_pool_free(pool);
}

static void test_what_else_may_be_at_the_cache_path(void **state)
{
    fixture *f = *state;
    assert_int_equal(crun_mkdir_parents(f->cache, NULL), 0);
    /* a FIFO: no waiting for a writer, no cache written over it */
    assert_int_equal(mkfifo(f->cache, 0600), 0);
    assert_null(conf_cache_open(f->cache, &f->old));
    assert_null(create(f->cache, &f->old));
    assert_int_equal(unlink(f->cache), 0);
    /* a link to a good cache elsewhere is not followed */
    char elsewhere[160];
    snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere.events", f->dir);
    write_cache(elsewhere, &f->old, "a: 1\n", 5);
    assert_int_equal(symlink(elsewhere, f->cache), 0);
    assert_null(conf_cache_open(f->cache, &f->old));
    assert_int_equal(unlink(f->cache), 0);

    /* the cache is as readable as the file */
    struct stat source = f->old, st;
    source.st_mode = S_IFREG | 0640;
    write_cache(f->cache, &source, "a: 1\n", 5);
    assert_int_equal(stat(f->cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    /* and trusted only from this user or the file's owner */
    if (geteuid() == 0) {
        assert_int_equal(chown(f->cache, 12345, 12345), 0);
        assert_null(conf_cache_open(f->cache, &source));
        source.st_uid = 12345;
        conf_cache_reader *r = conf_cache_open(f->cache, &source);
        assert_non_null(r);
        conf_cache_close(r);
    }

    /* what a killed writer left an hour ago goes; a live writer's stays */
    char old_tmp[192], new_tmp[192];
    snprintf(old_tmp, sizeof(old_tmp), "%s.Ab3dEf", f->cache);
    snprintf(new_tmp, sizeof(new_tmp), "%s.Gh5jKl", f->cache);
    write_text(old_tmp, "x", 1);
    write_text(new_tmp, "x", 1);
    struct timespec times[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    assert_int_equal(utimensat(AT_FDCWD, old_tmp, times, 0), 0);
    conf_cache_finish(create(f->cache, &f->old), false);
    assert_int_equal(access(old_tmp, F_OK), -1);
    assert_int_equal(access(new_tmp, F_OK), 0);

    /* versions of a file */
    struct stat later = f->old;
    assert_true(conf_cache_same_version(&f->old, &later));
    later.st_mtim.tv_nsec++;
    assert_false(conf_cache_same_version(&f->old, &later));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events_come_back_as_libyaml_gave_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_positions_in_any_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cache_is_for_one_version_of_one_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damaged_caches_are_not_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recent_files_and_dropped_caches_leave_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_any_cached_events_read_safely, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_records_never_read_past_their_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forged_caches_of_a_real_file_read_safely, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_file_that_fails_to_read_is_not_cached, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_what_else_may_be_at_the_cache_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_large_file_is_read_from_its_cache, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
