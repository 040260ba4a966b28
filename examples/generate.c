/* Generates samples from an edge model through the C API and writes them as
 * .npy, float32 [num_samples, latent elements...].
 *
 *   generate_c MODEL.fb OUT.npy [STEPS [NUM_SAMPLES]]
 *
 * Sample i is of class i (classes NULL); seed 0; the model's guidance. */
#include <edge/edge.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NumPy's format 1.0: magic, header length, a dict padded to 64 bytes. */
static int write_npy(const char* path, const float* data, const int64_t* shape, int rank) {
  char dict[256];
  int n = snprintf(dict, sizeof(dict), "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  size_t count = 1;
  for (int i = 0; i < rank; ++i) {
    n += snprintf(dict + n, sizeof(dict) - (size_t)n, "%lld, ", (long long)shape[i]);
    count *= (size_t)shape[i];
  }
  n += snprintf(dict + n, sizeof(dict) - (size_t)n, "), }");
  const int header = 10 + n + 1; /* magic+version+length, dict, newline */
  const int pad = (64 - header % 64) % 64;
  FILE* f = fopen(path, "wb");
  if (f == NULL) return 0;
  const unsigned short len = (unsigned short)(n + pad + 1);
  const unsigned char lead[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                  (unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
  int ok = fwrite(lead, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
  for (int i = 0; i < pad; ++i) ok = ok && fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  ok = ok && fwrite(data, sizeof(float), count, f) == count; /* little-endian hosts */
  return fclose(f) == 0 && ok;
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    fprintf(stderr, "usage: %s MODEL.fb OUT.npy [STEPS [NUM_SAMPLES]]\n", argv[0]);
    return 2;
  }
  if (edge_version() != EDGE_VERSION) {
    fprintf(stderr, "libedge %s does not match edge.h %d\n", edge_version_string(), EDGE_VERSION);
    return 1;
  }
  edge_model* model = NULL;
  edge_session* session = NULL;
  float* out = NULL;
  int rc = 1;
  if (edge_model_load(argv[1], &model) != EDGE_OK) goto fail;

  edge_session_options so;
  edge_session_options_default(&so); /* always: later releases add fields */
  if (edge_session_create(model, &so, &session) != EDGE_OK) goto fail;

  edge_generate_options g;
  edge_generate_options_default(&g);
  g.steps = argc > 3 ? atoi(argv[3]) : 0;
  g.num_samples = argc > 4 ? atoi(argv[4]) : 4;
  if (g.num_samples < 1 || g.num_samples > 64) {
    fprintf(stderr, "NUM_SAMPLES must be in [1, 64]\n");
    goto done;
  }

  int64_t shape[9];
  const int rank = edge_latent_shape(session, shape + 1, 8);
  if (rank < 0 || rank > 8) goto fail;
  shape[0] = g.num_samples;
  const size_t count = (size_t)g.num_samples * edge_latent_elements(session);
  out = (float*)malloc(count * sizeof(float));
  if (out == NULL) {
    fprintf(stderr, "out of memory\n");
    goto done;
  }
  if (edge_generate(session, &g, out, count) != EDGE_OK) goto fail;
  if (!write_npy(argv[2], out, shape, rank + 1)) {
    fprintf(stderr, "cannot write %s\n", argv[2]);
    goto done;
  }
  printf("edge %s: %d samples -> %s\n", edge_version_string(), g.num_samples, argv[2]);
  rc = 0;
  goto done;
fail:
  fprintf(stderr, "edge: %s\n", edge_last_error());
done:
  free(out);
  edge_session_free(session);
  edge_model_free(model);
  return rc;
}
