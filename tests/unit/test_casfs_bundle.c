/* casfs bundle: users resolved in the image's own tree, config.json from the
 * image config (checked with samepage's own config parser), refusals. */
#include <samepage/casfs_bundle.h>
#include <samepage/casfs_images.h>
#include <samepage/casfs_store.h>
#include <samepage/cleanup.h>
#include <samepage/oci_config.h>
#include <samepage/util.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>

#define PASSWD                                                                                                  \
  "root:x:0:0:root:/root:/bin/sh\n"                                                                             \
  "# comment\n"                                                                                                 \
  "app:x:1000:1000::/home/app:/bin/sh\n"                                                                        \
  "bob:x:1001:100::/home/bob:/bin/sh\n"                                                                         \
  "broken:x:notanumber:1\n"
#define GROUP "root:x:0:\nusers:x:100:bob\napp:x:1000:app\nwheel:x:10:bob,app\naudio:x:29:app\n"

struct fixture
{
  char *dir;
  struct casfs_store *s;
  struct casfs_digest tree; /* /etc/passwd -> ../usr/share/passwd, /etc/group */
  struct casfs_digest bare; /* no /etc at all */
};

static void
ok (int r, sp_error_t *err)
{
  if (r < 0)
    fail_msg ("%s", *err ? (*err)->msg : "?");
}

static struct casfs_entry *
add (struct casfs_tree *t, const char *name, uint32_t mode)
{
  struct casfs_entry *e;
  t->entries = sp_xrealloc (t->entries, (t->n + 1) * sizeof (*e));
  e = &t->entries[t->n++];
  memset (e, 0, sizeof (*e));
  e->name = sp_xstrdup (name);
  e->mode = mode;
  e->nlink = 1;
  return e;
}

static void
add_file (struct casfs_store *s, struct casfs_tree *t, const char *name, const char *content)
{
  sp_error_t err = NULL;
  struct casfs_entry *e = add (t, name, S_IFREG | 0644);
  e->size = strlen (content);
  ok (casfs_store_write_object (s, content, strlen (content), &e->digest, &err), &err);
}

static void
add_dir (struct casfs_store *s, struct casfs_tree *parent, const char *name, struct casfs_tree *sub)
{
  sp_error_t err = NULL;
  struct casfs_entry *e = add (parent, name, S_IFDIR | 0755);
  ok (casfs_store_write_tree (s, sub, &e->digest, &err), &err);
  casfs_tree_free (sub);
}

static int
setup (void **state)
{
  struct fixture *f = sp_xmalloc0 (sizeof (*f));
  char tmpl[] = "/tmp/casfs-bundle-test.XXXXXX";
  struct casfs_tree *root = sp_xmalloc0 (sizeof (*root)), *etc = sp_xmalloc0 (sizeof (*etc));
  struct casfs_tree *usr = sp_xmalloc0 (sizeof (*usr)), *share = sp_xmalloc0 (sizeof (*share));
  struct casfs_tree bare = { 0 };
  struct casfs_entry *e;
  sp_error_t err = NULL;

  f->dir = sp_xstrdup (mkdtemp (tmpl));
  ok (casfs_store_open (f->dir, true, &f->s, &err), &err);
  add_file (f->s, share, "passwd", PASSWD);
  add_dir (f->s, usr, "share", share);
  e = add (etc, "passwd", S_IFLNK | 0777);
  e->target = sp_xstrdup ("../usr/share/passwd");
  e->size = strlen (e->target);
  add_file (f->s, etc, "group", GROUP);
  add_dir (f->s, root, "etc", etc);
  add_dir (f->s, root, "usr", usr);
  ok (casfs_store_write_tree (f->s, root, &f->tree, &err), &err);
  casfs_tree_free (root);
  ok (casfs_store_write_tree (f->s, &bare, &f->bare, &err), &err);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  sp_error_t err = NULL;
  casfs_store_close (f->s);
  sp_rm_rf (f->dir, &err);
  free (f->dir);
  free (f);
  return 0;
}

/* Commits an image of f->tree with `config` as its config JSON under ref. */
static void
commit (struct fixture *f, const char *ref, const struct casfs_digest *tree, const char *config)
{
  struct casfs_image img = { .tree = *tree, .source = (char *) "test:bundle" };
  struct casfs_digest id;
  sp_error_t err = NULL;
  img.config = (char *) config;
  img.config_len = config ? strlen (config) : 0;
  ok (casfs_image_commit (f->s, ref, &img, &id, &err), &err);
  free (img.config_digest);
}

static void
test_user_resolve (void **state)
{
  struct fixture *f = *state;
  static const struct
  {
    const char *user;
    uint32_t uid, gid;
    size_t n_groups;
    uint32_t groups[2];
  } cases[] = {
    { "", 0, 0, 0, { 0 } },
    { "0", 0, 0, 0, { 0 } },
    { "root", 0, 0, 0, { 0 } },
    { "app", 1000, 1000, 2, { 10, 29 } }, /* app's own group 1000 lists it: not supplementary */
    { "bob", 1001, 100, 1, { 10 } },
    { "1000", 1000, 1000, 2, { 10, 29 } }, /* a known uid gets its name's primary group and groups */
    { "4242", 4242, 0, 0, { 0 } },         /* an unknown uid: gid 0 */
    { "4242:7", 4242, 7, 0, { 0 } },
    { "app:wheel", 1000, 10, 1, { 29 } },
    { "bob:0", 1001, 0, 2, { 100, 10 } },
    { "4242:audio", 4242, 29, 0, { 0 } },
  };
  for (size_t i = 0; i < SP_ARRAY_SIZE (cases); i++)
    {
      struct casfs_user u;
      sp_error_t err = NULL;
      ok (casfs_user_resolve (f->s, &f->tree, cases[i].user, &u, &err), &err);
      if (u.uid != cases[i].uid || u.gid != cases[i].gid || u.n_additional_gids != cases[i].n_groups)
        fail_msg ("user `%s`: got %u:%u +%zu", cases[i].user, u.uid, u.gid, u.n_additional_gids);
      for (size_t j = 0; j < u.n_additional_gids; j++)
        assert_int_equal (u.additional_gids[j], cases[i].groups[j]);
      casfs_user_clear (&u);
    }
}

static void
test_user_errors (void **state)
{
  struct fixture *f = *state;
  static const struct
  {
    const char *user;
    const char *msg;
  } cases[] = {
    { "nobody", "user `nobody`: no such user in the image's /etc/passwd" },
    { "app:nogroup", "no group `nogroup` in the image's /etc/group" },
    { "broken", "no such user" }, /* a malformed line never matches */
    { "app:", "want USER[:GROUP]" },
    { ":10", "want USER[:GROUP]" },
    { "-1", "no such user" },
    { "4294967295", "no such user" }, /* (uid_t) -1 is not a uid */
  };
  for (size_t i = 0; i < SP_ARRAY_SIZE (cases); i++)
    {
      struct casfs_user u;
      sp_error_t err = NULL;
      assert_int_equal (casfs_user_resolve (f->s, &f->tree, cases[i].user, &u, &err), -1);
      if (strstr (err->msg, cases[i].msg) == NULL)
        fail_msg ("user `%s`: message `%s`", cases[i].user, err->msg);
      sp_error_release (&err);
    }
  /* a tree without /etc/passwd: numbers work, names are a clear error */
  {
    struct casfs_user u;
    sp_error_t err = NULL;
    ok (casfs_user_resolve (f->s, &f->bare, "12:34", &u, &err), &err);
    assert_int_equal (u.uid, 12);
    assert_int_equal (u.gid, 34);
    assert_int_equal (casfs_user_resolve (f->s, &f->bare, "app", &u, &err), -1);
    assert_non_null (strstr (err->msg, "(the image has none)"));
    sp_error_release (&err);
  }
}

static void
test_read_file_follows_symlinks_in_tree (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *text = NULL;
  sp_error_t err = NULL;
  size_t len;

  ok (casfs_tree_read_file (f->s, &f->tree, "/etc/passwd", 1 << 20, &text, &len, &err), &err);
  assert_string_equal (text, PASSWD);
  assert_int_equal (len, strlen (PASSWD));
  assert_int_equal (casfs_tree_read_file (f->s, &f->tree, "/etc/passwd", 10, &text, &len, &err), -1);
  assert_int_equal (err->status, EFBIG);
  sp_error_release (&err);
  assert_int_equal (casfs_tree_read_file (f->s, &f->tree, "/etc/shadow", 1 << 20, &text, &len, &err), -1);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);
  assert_int_equal (casfs_tree_read_file (f->s, &f->tree, "/etc", 1 << 20, &text, &len, &err), -1);
  sp_error_release (&err);
}

static const char *
jstr (yajl_val v, const char **path)
{
  yajl_val s = yajl_tree_get (v, path, yajl_t_string);
  return s ? s->u.string : NULL;
}

static yajl_val
parse_and_check (const char *json, size_t len)
{
  cleanup_config struct oci_config *c = NULL;
  sp_error_t err = NULL;
  char msg[128];
  yajl_val v;

  /* samepage's own parser takes it */
  ok (oci_config_parse (json, len, "config.json", &c, &err), &err);
  v = yajl_tree_parse (json, msg, sizeof msg);
  assert_non_null (v);
  return v;
}

static void
test_config_from_image (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *json = NULL;
  cleanup_free char *store = realpath (f->dir, NULL);
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  const char *p_version[] = { "ociVersion", NULL }, *p_cwd[] = { "process", "cwd", NULL };
  const char *p_args[] = { "process", "args", NULL }, *p_env[] = { "process", "env", NULL };
  const char *p_uid[] = { "process", "user", "uid", NULL }, *p_gid[] = { "process", "user", "gid", NULL };
  const char *p_groups[] = { "process", "user", "additionalGids", NULL };
  const char *p_term[] = { "process", "terminal", NULL }, *p_host[] = { "hostname", NULL };
  const char *p_tree[] = { "annotations", CASFS_ANNOTATION_TREE, NULL };
  const char *p_store[] = { "annotations", CASFS_ANNOTATION_STORE, NULL };
  const char *p_ns[] = { "linux", "namespaces", NULL }, *p_caps[] = { "process", "capabilities", "bounding", NULL };
  sp_error_t err = NULL;
  yajl_val v, a;
  size_t len;

  commit (f, "app:1", &f->tree,
          "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"app\",\"Env\":[\"A=1\",\"B=two "
          "words\"],\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],\"WorkingDir\":\"/srv\","
          "\"Hostname\":\"box\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
  ok (casfs_bundle_config (f->s, "app:1", NULL, &json, &len, &err), &err);
  v = parse_and_check (json, len);
  assert_string_equal (jstr (v, p_version), "1.0.2");
  a = yajl_tree_get (v, p_args, yajl_t_array);
  assert_int_equal (YAJL_GET_ARRAY (a)->len, 3);
  assert_string_equal (YAJL_GET_ARRAY (a)->values[0]->u.string, "/bin/sh");
  assert_string_equal (YAJL_GET_ARRAY (a)->values[1]->u.string, "-c");
  assert_string_equal (YAJL_GET_ARRAY (a)->values[2]->u.string, "echo hi");
  a = yajl_tree_get (v, p_env, yajl_t_array);
  assert_int_equal (YAJL_GET_ARRAY (a)->len, 3);
  assert_string_equal (YAJL_GET_ARRAY (a)->values[0]->u.string, CASFS_BUNDLE_DEFAULT_PATH);
  assert_string_equal (YAJL_GET_ARRAY (a)->values[2]->u.string, "B=two words");
  assert_string_equal (jstr (v, p_cwd), "/srv");
  assert_int_equal (YAJL_GET_INTEGER (yajl_tree_get (v, p_uid, yajl_t_number)), 1000);
  assert_int_equal (YAJL_GET_INTEGER (yajl_tree_get (v, p_gid, yajl_t_number)), 1000);
  assert_int_equal (YAJL_GET_ARRAY (yajl_tree_get (v, p_groups, yajl_t_array))->len, 2);
  assert_true (YAJL_IS_FALSE (yajl_tree_get (v, p_term, yajl_t_any)));
  assert_string_equal (jstr (v, p_host), "box");
  casfs_digest_hex (&f->tree, hex);
  assert_string_equal (jstr (v, p_tree), hex);
  assert_string_equal (jstr (v, p_store), store);
  assert_true (YAJL_GET_ARRAY (yajl_tree_get (v, p_ns, yajl_t_array))->len >= 5);
  assert_true (YAJL_GET_ARRAY (yajl_tree_get (v, p_caps, yajl_t_array))->len > 0);
  yajl_tree_free (v);
  free (steal_pointer (&json));

  /* trailing arguments replace Entrypoint + Cmd; an image PATH is kept as is */
  {
    char *args[] = { (char *) "sh", (char *) "-c", (char *) "echo bye", NULL };
    struct casfs_bundle_options o = { .args = args };
    commit (f, "path:1", &f->tree, "{\"config\":{\"Env\":[\"PATH=/opt/bin\"],\"Cmd\":[\"x\"]}}");
    ok (casfs_bundle_config (f->s, "path:1", &o, &json, &len, &err), &err);
    v = parse_and_check (json, len);
    a = yajl_tree_get (v, p_args, yajl_t_array);
    assert_int_equal (YAJL_GET_ARRAY (a)->len, 3);
    assert_string_equal (YAJL_GET_ARRAY (a)->values[2]->u.string, "echo bye");
    a = yajl_tree_get (v, p_env, yajl_t_array);
    assert_int_equal (YAJL_GET_ARRAY (a)->len, 1);
    assert_string_equal (YAJL_GET_ARRAY (a)->values[0]->u.string, "PATH=/opt/bin");
    assert_string_equal (jstr (v, p_cwd), "/");
    assert_string_equal (jstr (v, p_host), "samepage");
    yajl_tree_free (v);
  }
}

static void
test_config_bare_and_errors (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *json = NULL;
  const char *p_args[] = { "process", "args", NULL };
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  sp_error_t err = NULL;
  yajl_val v, a;
  size_t len;
  static const struct
  {
    const char *config;
    const char *msg;
  } bad[] = {
    { "{\"config\":{\"Cmd\":\"echo\"}}", "`config.Cmd` must be an array of strings" },
    { "{\"config\":{\"Env\":[1]}}", "`config.Env[0]` is not a string" },
    { "{\"config\":{\"User\":7}}", "`config.User` must be a string" },
    { "{\"config\":{\"WorkingDir\":\"srv\"}}", "WorkingDir `srv` is not absolute" },
    { "{\"config\":{\"User\":\"ghost\"}}", "no such user" },
    { "{\"config\":[]}", "`config` must be an object" },
    { "[1,2]", "not a JSON object" },
    { "{\"config\":{\"Cmd\":[\"\\u00ff\\ufffe\"]}}", NULL }, /* valid JSON text: must work */
  };

  /* a ref without an image record, and a bare tree digest: /bin/sh */
  ok (casfs_store_set_ref (f->s, "bare:1", &f->tree, &err), &err);
  casfs_digest_hex (&f->bare, hex);
  for (int i = 0; i < 2; i++)
    {
      ok (casfs_bundle_config (f->s, i ? hex : "bare:1", NULL, &json, &len, &err), &err);
      v = parse_and_check (json, len);
      a = yajl_tree_get (v, p_args, yajl_t_array);
      assert_int_equal (YAJL_GET_ARRAY (a)->len, 1);
      assert_string_equal (YAJL_GET_ARRAY (a)->values[0]->u.string, "/bin/sh");
      yajl_tree_free (v);
      free (steal_pointer (&json));
    }
  assert_int_equal (casfs_bundle_config (f->s, "nope:1", NULL, &json, &len, &err), -1);
  assert_int_equal (err->status, ENOENT);
  assert_non_null (strstr (err->msg, "no ref `nope:1`"));
  sp_error_release (&err);

  for (size_t i = 0; i < SP_ARRAY_SIZE (bad); i++)
    {
      commit (f, "bad:1", &f->tree, bad[i].config);
      int r = casfs_bundle_config (f->s, "bad:1", NULL, &json, &len, &err);
      if (bad[i].msg == NULL)
        {
          ok (r, &err);
          free (steal_pointer (&json));
          continue;
        }
      assert_int_equal (r, -1);
      if (strstr (err->msg, bad[i].msg) == NULL)
        fail_msg ("config %s: message `%s`", bad[i].config, err->msg);
      assert_non_null (strstr (err->msg, "image `bad:1`"));
      sp_error_release (&err);
    }
}

static void
test_write_refuses (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *dir = sp_xasprintf ("%s/bundle", f->dir);
  cleanup_free char *cfg = sp_xasprintf ("%s/config.json", dir);
  cleanup_free char *rootfs = sp_xasprintf ("%s/rootfs", dir);
  cleanup_free char *before = NULL;
  cleanup_free char *after = NULL;
  cleanup_free char *stray = sp_xasprintf ("%s/stray", rootfs);
  struct stat st;
  sp_error_t err = NULL;

  ok (casfs_store_set_ref (f->s, "w:1", &f->tree, &err), &err);
  ok (casfs_bundle_write (f->s, "w:1", dir, NULL, &err), &err);
  assert_int_equal (stat (rootfs, &st), 0);
  assert_true (S_ISDIR (st.st_mode));
  ok (sp_read_file (cfg, &before, NULL, &err), &err);
  /* config.json exists: refused, untouched */
  assert_int_equal (casfs_bundle_write (f->s, "w:1", dir, NULL, &err), -1);
  assert_int_equal (err->status, EEXIST);
  assert_non_null (strstr (err->msg, "config.json` exists"));
  sp_error_release (&err);
  ok (sp_read_file (cfg, &after, NULL, &err), &err);
  assert_string_equal (before, after);
  /* an existing empty rootfs is fine, a non-empty one is refused */
  assert_int_equal (unlink (cfg), 0);
  ok (casfs_bundle_write (f->s, "w:1", dir, NULL, &err), &err);
  assert_int_equal (unlink (cfg), 0);
  ok (sp_write_file (stray, "x", 1, 0644, &err), &err);
  assert_int_equal (casfs_bundle_write (f->s, "w:1", dir, NULL, &err), -1);
  assert_non_null (strstr (err->msg, "rootfs` exists and is not empty"));
  sp_error_release (&err);
  assert_int_equal (access (cfg, F_OK), -1);
  /* an unknown ref writes nothing */
  {
    cleanup_free char *other = sp_xasprintf ("%s/other", f->dir);
    assert_int_equal (casfs_bundle_write (f->s, "nope:1", other, NULL, &err), -1);
    sp_error_release (&err);
    assert_int_equal (access (other, F_OK), -1);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_user_resolve, setup, teardown),
    cmocka_unit_test_setup_teardown (test_user_errors, setup, teardown),
    cmocka_unit_test_setup_teardown (test_read_file_follows_symlinks_in_tree, setup, teardown),
    cmocka_unit_test_setup_teardown (test_config_from_image, setup, teardown),
    cmocka_unit_test_setup_teardown (test_config_bare_and_errors, setup, teardown),
    cmocka_unit_test_setup_teardown (test_write_refuses, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
