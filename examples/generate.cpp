// Generates samples from an edge model through the C API, with RAII owners,
// and writes them side by side as one picture: PGM for one channel, PPM for
// three, values in [-1, 1] mapped to [0, 255].
//
//   generate_cpp MODEL.fb OUT.pgm|OUT.ppm [STEPS [NUM_SAMPLES]]
#include <edge/edge.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

struct ModelFree { void operator()(edge_model* m) const { edge_model_free(m); } };
struct SessionFree { void operator()(edge_session* s) const { edge_session_free(s); } };
using Model = std::unique_ptr<edge_model, ModelFree>;
using Session = std::unique_ptr<edge_session, SessionFree>;

int Fail(const std::string& what) {
  std::cerr << what << ": " << edge_last_error() << "\n";
  return 1;
}

// Samples [n, c, h, w] as one row of c-channel pictures, binary PNM.
bool WritePnm(const std::string& path, const std::vector<float>& x, int n, int c, int h, int w) {
  std::ofstream f(path, std::ios::binary);
  f << (c == 1 ? "P5" : "P6") << "\n" << n * w << " " << h << "\n255\n";
  std::vector<unsigned char> row(size_t(n) * w * c);
  for (int y = 0; y < h; ++y) {
    for (int i = 0; i < n; ++i) {
      for (int xx = 0; xx < w; ++xx) {
        for (int ch = 0; ch < c; ++ch) {
          const float v = x[((size_t(i) * c + ch) * h + y) * w + xx];
          const float u = std::clamp((v + 1.f) * 127.5f, 0.f, 255.f);
          row[(size_t(i) * w + xx) * c + ch] = static_cast<unsigned char>(std::lround(u));
        }
      }
    }
    f.write(reinterpret_cast<const char*>(row.data()), std::streamsize(row.size()));
  }
  return bool(f.flush());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::cerr << "usage: " << argv[0] << " MODEL.fb OUT.pgm|OUT.ppm [STEPS [NUM_SAMPLES]]\n";
    return 2;
  }
  edge_model* m = nullptr;
  if (edge_model_load(argv[1], &m) != EDGE_OK) return Fail("load");
  Model model(m);

  edge_session_options so;
  edge_session_options_default(&so);  // always first: later releases add fields
  so.num_threads = 0;                 // one per big core
  edge_session* s = nullptr;
  if (edge_session_create(model.get(), &so, &s) != EDGE_OK) return Fail("session");
  Session session(s);

  int64_t shape[8];
  const int rank = edge_latent_shape(session.get(), shape, 8);
  if (rank < 0) return Fail("latent shape");
  if (rank != 3 || (shape[0] != 1 && shape[0] != 3)) {
    std::cerr << "this example writes pictures: the model's latent is not [1 or 3, H, W]\n";
    return 1;
  }
  edge_generate_options g;
  edge_generate_options_default(&g);
  g.steps = argc > 3 ? std::atoi(argv[3]) : 0;
  g.num_samples = argc > 4 ? std::atoi(argv[4]) : 4;
  if (g.num_samples < 1 || g.num_samples > 64) {
    std::cerr << "NUM_SAMPLES must be in [1, 64]\n";
    return 2;
  }
  std::vector<float> out(size_t(g.num_samples) * edge_latent_elements(session.get()));
  if (edge_generate(session.get(), &g, out.data(), out.size()) != EDGE_OK) return Fail("generate");
  if (!WritePnm(argv[2], out, g.num_samples, int(shape[0]), int(shape[1]), int(shape[2]))) {
    std::cerr << "cannot write " << argv[2] << "\n";
    return 1;
  }
  std::cout << "edge " << edge_version_string() << ": " << g.num_samples << " samples -> " << argv[2] << "\n";
  return 0;
}
