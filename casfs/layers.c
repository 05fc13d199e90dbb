/* Layer trees: the in-memory tree a layer is built in, the rules for putting
 * entries into it (OCI and overlay whiteouts, opaque directories, implicit
 * parents, duplicates), writing it bottom-up with canonical hardlink ids, and
 * stacking stored layer trees into one merged tree. */
#include "import_internal.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct memtree *
memtree_new (void)
{
  struct memtree *t = sp_xmalloc0 (sizeof (*t));
  t->root = sp_xmalloc0 (sizeof (*t->root));
  t->root->is_dir = true;
  t->root->e.mode = S_IFDIR | 0755;
  return t;
}

static void
mnode_free (struct mnode *n)
{
  for (size_t i = 0; i < n->n_kids; i++)
    mnode_free (n->kids[i]);
  free (n->kids);
  free (n->index);
  casfs_entry_clear (&n->e);
  free (n);
}

void
memtree_free (struct memtree *t)
{
  if (t == NULL)
    return;
  mnode_free (t->root);
  free (t->links);
  free (t);
}

static uint32_t
name_hash (const char *s)
{
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (uint8_t) *s) * 16777619u;
  return h;
}

static void
index_rebuild (struct mnode *dir)
{
  size_t cap = 16;
  while (cap < dir->n_kids * 2)
    cap *= 2;
  free (dir->index);
  dir->index = sp_xmalloc0 (cap * sizeof (*dir->index));
  dir->index_cap = cap;
  for (size_t i = 0; i < dir->n_kids; i++)
    {
      size_t h = name_hash (dir->kids[i]->e.name) & (cap - 1);
      while (dir->index[h])
        h = (h + 1) & (cap - 1);
      dir->index[h] = (uint32_t) i + 1;
    }
}

static size_t
kid_slot (const struct mnode *dir, const char *name)
{
  size_t h = name_hash (name) & (dir->index_cap - 1);
  while (dir->index[h] && strcmp (dir->kids[dir->index[h] - 1]->e.name, name) != 0)
    h = (h + 1) & (dir->index_cap - 1);
  return h;
}

struct mnode *
mnode_child (struct mnode *dir, const char *name)
{
  if (dir->index_cap == 0)
    return NULL;
  size_t h = kid_slot (dir, name);
  return dir->index[h] ? dir->kids[dir->index[h] - 1] : NULL;
}

struct mnode *
mnode_add (struct memtree *t, struct mnode *dir, const char *name)
{
  struct mnode *n = sp_xmalloc0 (sizeof (*n));

  n->e.name = sp_xstrdup (name);
  n->e.nlink = 1;
  n->parent = dir;
  if (dir->n_kids == dir->cap_kids)
    {
      dir->cap_kids = dir->cap_kids ? dir->cap_kids * 2 : 8;
      dir->kids = sp_xrealloc (dir->kids, dir->cap_kids * sizeof (*dir->kids));
    }
  dir->kids[dir->n_kids++] = n;
  if (dir->n_kids * 2 > dir->index_cap)
    index_rebuild (dir);
  else
    dir->index[kid_slot (dir, name)] = (uint32_t) dir->n_kids;
  t->n_nodes++;
  return n;
}

void
mnode_clear_kids (struct mnode *dir)
{
  for (size_t i = 0; i < dir->n_kids; i++)
    mnode_free (dir->kids[i]);
  dir->n_kids = 0;
  free (dir->index);
  dir->index = NULL;
  dir->index_cap = 0;
}

void
mnode_remove (struct mnode *dir, const char *name)
{
  if (dir->index_cap == 0)
    return;
  size_t h = kid_slot (dir, name);
  if (dir->index[h] == 0)
    return;
  size_t i = dir->index[h] - 1;
  mnode_free (dir->kids[i]);
  dir->kids[i] = dir->kids[--dir->n_kids];
  index_rebuild (dir);
}

static void
set_implicit_dir (struct mnode *n)
{
  uint32_t nlink = 1;
  char *name = steal_pointer (&n->e.name);
  casfs_entry_clear (&n->e);
  n->e.name = name;
  n->e.mode = S_IFDIR | 0755;
  n->e.nlink = nlink;
  n->is_dir = true;
  n->is_implicit = true;
  n->is_whiteout = false;
}

static void
set_whiteout (struct mnode *n)
{
  char *name = steal_pointer (&n->e.name);
  casfs_entry_clear (&n->e);
  n->e.name = name;
  n->e.mode = S_IFCHR; /* overlayfs' form: c--------- 0 0, owner root, time 0 */
  n->e.nlink = 1;
  n->is_whiteout = true;
}

/* Drops xattrs the store must not keep; reports the opaque marker. */
static bool
filter_xattrs (struct casfs_entry *e)
{
  bool opaque = false;
  size_t k = 0;
  for (size_t j = 0; j < e->n_xattrs; j++)
    {
      struct casfs_xattr *x = &e->xattrs[j];
      if ((strcmp (x->name, OVERLAY_OPAQUE_XATTR) == 0 || strcmp (x->name, "user.overlay.opaque") == 0)
          && x->len == 1 && x->value[0] == 'y')
        opaque = true;
      if (casfs_import_keep_xattr (x->name))
        e->xattrs[k++] = *x;
      else
        {
          free (x->name);
          free (x->value);
        }
    }
  e->n_xattrs = k;
  if (k == 0)
    {
      free (e->xattrs);
      e->xattrs = NULL;
    }
  return opaque;
}

int
memtree_parent_of (struct memtree *t, const char *path, bool create, struct mnode **dir_out, const char **base_out,
                   const char *what, sp_error_t *err)
{
  struct mnode *cur = t->root;
  const char *p = path;
  char comp[CASFS_NAME_MAX + 1];

  for (const char *slash; (slash = strchr (p, '/')); p = slash + 1)
    {
      size_t n = (size_t) (slash - p);
      struct mnode *kid;
      memcpy (comp, p, n);
      comp[n] = '\0';
      kid = mnode_child (cur, comp);
      if (kid == NULL)
        {
          if (!create)
            return sp_error_make (err, ENOENT, "entry `%s`: `%.*s` is not in the archive", what,
                                  (int) (slash - path), path);
          kid = mnode_add (t, cur, comp);
          set_implicit_dir (kid);
        }
      else if (kid->is_whiteout && create)
        {
          /* A whiteout and entries below it in one layer: the directory replaces
           * what lower layers had, so it is opaque. */
          set_implicit_dir (kid);
          kid->is_opaque = true;
        }
      else if (!kid->is_dir)
        return sp_error_make (err, ENOTDIR, "entry `%s`: path component `%.*s` is a %s, not a directory", what,
                              (int) (slash - path), path, S_ISLNK (kid->e.mode) ? "symlink" : "non-directory");
      cur = kid;
    }
  *dir_out = cur;
  *base_out = p;
  return 0;
}

int
memtree_put (struct memtree *t, struct mnode *dir, struct casfs_entry *meta, const char *what, struct mnode **out,
             sp_error_t *err)
{
  const char *name = meta->name;
  const char *hidden = NULL; /* the name a whiteout hides */
  struct mnode *n;
  bool opaque;

  *out = NULL;
  if (strcmp (name, OCI_OPAQUE_NAME) == 0)
    {
      dir->is_opaque = true;
      casfs_entry_clear (meta);
      return 0;
    }
  if (sp_str_has_prefix (name, OCI_WHITEOUT_PREFIX))
    {
      hidden = name + strlen (OCI_WHITEOUT_PREFIX);
      if (*hidden == '\0' || sp_str_has_prefix (hidden, OCI_WHITEOUT_PREFIX) || strcmp (hidden, ".") == 0
          || strcmp (hidden, "..") == 0)
        return sp_error_make (err, EINVAL, "entry `%s`: invalid whiteout name", what);
    }
  else if (S_ISCHR (meta->mode) && meta->rdev == 0)
    hidden = name;
  if (hidden)
    {
      n = mnode_child (dir, hidden);
      if (n)
        {
          /* OCI: a whiteout only hides lower layers; an entry of the same layer
           * stays, and a directory becomes opaque to keep the whiteout's effect. */
          if (n->is_dir)
            n->is_opaque = true;
        }
      else
        set_whiteout (mnode_add (t, dir, hidden));
      casfs_entry_clear (meta);
      return 0;
    }
  if (t->n_nodes >= CASFS_IMPORT_ENTRIES_MAX)
    return sp_error_make (err, EFBIG, "entry `%s`: more than %u entries in one layer", what,
                          CASFS_IMPORT_ENTRIES_MAX);
  opaque = filter_xattrs (meta) && S_ISDIR (meta->mode);
  n = mnode_child (dir, name);
  if (n && n->is_whiteout)
    {
      mnode_remove (dir, name);
      n = NULL;
      if (S_ISDIR (meta->mode))
        opaque = true;
    }
  if (n)
    {
      if (!(n->is_dir && n->is_implicit && S_ISDIR (meta->mode)))
        return sp_error_make (err, EEXIST, "duplicate entry `%s`", what);
      free (meta->name);
      meta->name = steal_pointer (&n->e.name);
      casfs_entry_clear (&n->e);
      n->e = *meta;
      memset (meta, 0, sizeof (*meta));
      n->is_implicit = false;
      n->is_opaque = n->is_opaque || opaque;
      *out = n;
      return 0;
    }
  n = mnode_add (t, dir, name);
  free (n->e.name);
  n->e = *meta;
  memset (meta, 0, sizeof (*meta));
  if (n->e.nlink == 0)
    n->e.nlink = 1;
  n->is_dir = S_ISDIR (n->e.mode);
  n->is_opaque = opaque;
  *out = n;
  return 0;
}

static void
copy_xattrs (struct casfs_entry *dst, const struct casfs_entry *src)
{
  dst->n_xattrs = 0;
  dst->xattrs = src->n_xattrs ? sp_xmalloc0 (src->n_xattrs * sizeof (*dst->xattrs)) : NULL;
  for (size_t j = 0; j < src->n_xattrs; j++)
    {
      if (strcmp (src->xattrs[j].name, OVERLAY_OPAQUE_XATTR) == 0
          || strcmp (src->xattrs[j].name, IMPLICIT_DIR_XATTR) == 0)
        continue;
      struct casfs_xattr *x = &dst->xattrs[dst->n_xattrs++];
      x->name = sp_xstrdup (src->xattrs[j].name);
      x->len = src->xattrs[j].len;
      x->value = sp_xmalloc0 (x->len + 1);
      memcpy (x->value, src->xattrs[j].value, x->len);
    }
}

/* Copies everything but the name (and, for directories, the digest). */
static void
copy_meta (struct casfs_entry *dst, const struct casfs_entry *src)
{
  char *name = steal_pointer (&dst->name);
  casfs_entry_clear (dst);
  *dst = *src;
  dst->name = name;
  dst->target = src->target ? sp_xstrdup (src->target) : NULL;
  copy_xattrs (dst, src);
}

void
memtree_resolve_links (struct memtree *t)
{
  for (size_t i = 0; i < t->n_links; i++)
    {
      struct mnode *n = t->links[i], *p = n->link_primary;
      while (p->link_primary)
        p = p->link_primary;
      copy_meta (&n->e, &p->e);
      n->link_group = p->link_group;
    }
}

/* link_group -> canonical id and member count. */
struct link_map
{
  struct link_slot
  {
    uint64_t group, id;
    uint32_t count;
  } *slots;
  size_t cap, n;
  uint64_t next_id;
};

static struct link_slot *
link_slot (struct link_map *m, uint64_t group)
{
  if (m->n * 2 >= m->cap)
    {
      struct link_map bigger = { .cap = m->cap ? m->cap * 2 : 64 };
      bigger.slots = sp_xmalloc0 (bigger.cap * sizeof (*bigger.slots));
      for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].group)
          {
            size_t h = (m->slots[i].group * 0x9e3779b97f4a7c15ull) >> 20 & (bigger.cap - 1);
            while (bigger.slots[h].group)
              h = (h + 1) & (bigger.cap - 1);
            bigger.slots[h] = m->slots[i];
          }
      free (m->slots);
      m->slots = bigger.slots;
      m->cap = bigger.cap;
    }
  size_t h = (group * 0x9e3779b97f4a7c15ull) >> 20 & (m->cap - 1);
  while (m->slots[h].group && m->slots[h].group != group)
    h = (h + 1) & (m->cap - 1);
  if (m->slots[h].group == 0)
    {
      m->slots[h].group = group;
      m->n++;
    }
  return &m->slots[h];
}

static void
count_links (struct mnode *dir, bool merged, struct link_map *m)
{
  for (size_t i = 0; i < dir->n_kids; i++)
    {
      struct mnode *k = dir->kids[i];
      if (merged && k->is_whiteout)
        continue;
      if (k->is_dir)
        count_links (k, merged, m);
      else if (k->link_group)
        link_slot (m, k->link_group)->count++;
    }
}

static int
cmp_kid (const void *a, const void *b)
{
  return strcmp ((*(struct mnode *const *) a)->e.name, (*(struct mnode *const *) b)->e.name);
}

static int
write_dir (struct casfs_store *s, struct mnode *dir, bool merged, struct link_map *m, struct casfs_digest *out,
           sp_error_t *err)
{
  struct casfs_tree tree = { 0 };
  cleanup_free struct casfs_entry *entries = NULL;
  struct casfs_xattr *extra = NULL; /* per-kid xattr arrays with the opaque marker added */
  size_t n_extra = 0;
  int ret = 0;

  if (dir->n_kids > 1)
    qsort (dir->kids, dir->n_kids, sizeof (*dir->kids), cmp_kid);
  index_rebuild (dir);
  entries = sp_xmalloc0 ((dir->n_kids ? dir->n_kids : 1) * sizeof (*entries));
  struct casfs_xattr **owned = sp_xmalloc0 ((dir->n_kids ? dir->n_kids : 1) * sizeof (*owned));
  for (size_t i = 0; i < dir->n_kids && ret == 0; i++)
    {
      struct mnode *k = dir->kids[i];
      struct casfs_entry *e;
      if (merged && k->is_whiteout)
        continue;
      e = &entries[tree.n++];
      *e = k->e; /* borrowed: freed with the node */
      if (k->is_dir)
        {
          e->size = 0;
          e->nlink = 1;
          e->link_id = 0;
          ret = write_dir (s, k, merged, m, &e->digest, err);
          if (!merged && (k->is_opaque || k->is_implicit))
            {
              /* Layer form: markers for stacking (the merged tree has none). */
              extra = sp_xmalloc0 ((e->n_xattrs + 2) * sizeof (*extra));
              if (e->n_xattrs)
                memcpy (extra, e->xattrs, e->n_xattrs * sizeof (*extra));
              if (k->is_opaque)
                extra[e->n_xattrs++] = (struct casfs_xattr) { (char *) OVERLAY_OPAQUE_XATTR, (uint8_t *) "y", 1 };
              if (k->is_implicit)
                extra[e->n_xattrs++] = (struct casfs_xattr) { (char *) IMPLICIT_DIR_XATTR, (uint8_t *) "y", 1 };
              e->xattrs = owned[n_extra++] = extra;
            }
        }
      else if (k->link_group)
        {
          struct link_slot *ls = link_slot (m, k->link_group);
          if (ls->count >= 2)
            {
              if (ls->id == 0)
                ls->id = ++m->next_id;
              e->link_id = ls->id;
              e->nlink = ls->count;
            }
          else
            {
              e->link_id = 0;
              e->nlink = 1;
            }
        }
      else
        {
          e->link_id = 0;
          e->nlink = 1;
        }
    }
  if (ret == 0)
    {
      tree.entries = entries;
      ret = casfs_store_write_tree (s, &tree, out, err);
    }
  for (size_t i = 0; i < n_extra; i++)
    free (owned[i]);
  free (owned);
  return ret < 0 ? -1 : 0;
}

int
memtree_write (struct casfs_store *s, struct memtree *t, bool merged, struct casfs_digest *out, sp_error_t *err)
{
  struct link_map m = { 0 };
  int ret;

  count_links (t->root, merged, &m);
  ret = write_dir (s, t->root, merged, &m, out, err);
  free (m.slots);
  return ret;
}

/* Applies one stored layer directory onto dst (overlay semantics). */
static int
apply_tree (struct casfs_store *s, struct memtree *t, struct mnode *dst, const struct casfs_digest *d,
            uint64_t layer, sp_error_t *err)
{
  cleanup_tree struct casfs_tree *src = NULL;

  if (casfs_store_read_tree (s, d, &src, err) < 0)
    return -1;
  for (size_t i = 0; i < src->n; i++)
    {
      const struct casfs_entry *se = &src->entries[i];
      struct mnode *n = mnode_child (dst, se->name);

      if (S_ISCHR (se->mode) && se->rdev == 0)
        {
          mnode_remove (dst, se->name);
          continue;
        }
      if (S_ISDIR (se->mode))
        {
          const struct casfs_xattr *ox = casfs_entry_xattr (se, OVERLAY_OPAQUE_XATTR);
          bool opaque = ox && ox->len == 1 && ox->value[0] == 'y';
          if (n && !(n->is_dir && !opaque))
            {
              mnode_remove (dst, se->name);
              n = NULL;
            }
          if (n == NULL)
            {
              n = mnode_add (t, dst, se->name);
              n->is_dir = true;
              copy_meta (&n->e, se);
            }
          else if (casfs_entry_xattr (se, IMPLICIT_DIR_XATTR) == NULL)
            copy_meta (&n->e, se); /* an implicit parent keeps the lower directory's metadata */
          memset (&n->e.digest, 0, sizeof (n->e.digest));
          if (apply_tree (s, t, n, &se->digest, layer, err) < 0)
            return sp_error_wrap (err, "directory `%s`", se->name);
          continue;
        }
      if (n)
        mnode_remove (dst, se->name);
      n = mnode_add (t, dst, se->name);
      copy_meta (&n->e, se);
      n->link_group = se->link_id ? (layer + 1) << 40 | se->link_id : 0;
    }
  return 0;
}

int
casfs_layers_merge (struct casfs_store *s, const struct casfs_digest *layers, size_t n,
                    struct casfs_digest *merged_out, sp_error_t *err)
{
  struct memtree *t = memtree_new ();
  int ret = 0;

  for (size_t i = 0; i < n && ret == 0; i++)
    {
      char hex[CASFS_DIGEST_HEX_LEN + 1];
      if (apply_tree (s, t, t->root, &layers[i], i, err) < 0)
        {
          casfs_digest_hex (&layers[i], hex);
          ret = sp_error_wrap (err, "stack layer %zu (tree %s)", i + 1, hex);
        }
    }
  if (ret == 0)
    ret = memtree_write (s, t, true, merged_out, err);
  memtree_free (t);
  return ret;
}
