#include "master/onnx/onnx_export.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include <onnx/onnx_pb.h>

#include "federated/transform.h"
#include "master/jobs/saved_model.h"

namespace fedra {
namespace {

// The cells a site reads as missing by default (site.json "missing"): imputed as the model was.
const std::vector<std::string> kMissingTokens = {"", "NA", "NaN", "null"};

class Graph {
 public:
  explicit Graph(onnx::GraphProto* g) : g_(g) {}

  // A new value name.
  std::string Name(const std::string& hint) { return hint + "_" + std::to_string(next_++); }

  std::string Floats(const std::string& hint, const std::vector<float>& values, std::vector<int64_t> dims) {
    onnx::TensorProto* t = g_->add_initializer();
    t->set_name(Name(hint));
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
    return t->name();
  }

  std::string Ints(const std::string& hint, const std::vector<int64_t>& values, std::vector<int64_t> dims) {
    onnx::TensorProto* t = g_->add_initializer();
    t->set_name(Name(hint));
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t v : values) t->add_int64_data(v);
    return t->name();
  }

  // A row-major [rows, cols] float constant of `m`.
  std::string Matrix2(const std::string& hint, const Matrix& m) {
    std::vector<float> values;
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      for (Eigen::Index j = 0; j < m.cols(); ++j) values.push_back(static_cast<float>(m(i, j)));
    }
    return Floats(hint, values, {m.rows(), m.cols()});
  }

  onnx::NodeProto* Node(const std::string& op, std::initializer_list<std::string> inputs, const std::string& output,
                        const std::string& domain = "") {
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(output);
    if (!domain.empty()) n->set_domain(domain);
    for (const std::string& in : inputs) n->add_input(in);
    n->add_output(output);
    return n;
  }

  // One node with one output, named from `hint` unless `output` is given.
  std::string Op(const std::string& op, std::initializer_list<std::string> inputs, const std::string& hint,
                 onnx::NodeProto** node = nullptr, const std::string& output = "") {
    onnx::NodeProto* n = Node(op, inputs, output.empty() ? Name(hint) : output);
    if (node) *node = n;
    return n->output(0);
  }

  static void Attribute(onnx::NodeProto* n, const std::string& name, int64_t v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void Attribute(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void Attribute(onnx::NodeProto* n, const std::string& name, const std::vector<std::string>& v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRINGS);
    for (const std::string& x : v) a->add_strings(x);
  }

  // A graph input or output: [N] or [N, width] (width 0: [N]).
  void Declare(bool input, const std::string& name, int type, int64_t width) {
    onnx::ValueInfoProto* v = input ? g_->add_input() : g_->add_output();
    v->set_name(name);
    onnx::TypeProto::Tensor* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    t->mutable_shape()->add_dim()->set_dim_param("N");
    if (width > 0) t->mutable_shape()->add_dim()->set_dim_value(width);
  }

 private:
  onnx::GraphProto* g_;
  int next_ = 0;
};

// x -> (x - centre) / divisor, where the column is scaled.
std::string Scale(Graph& g, const ColumnTransform& c, std::string v) {
  if (c.scale == Scaling::kNone) return v;
  v = g.Op("Sub", {v, g.Floats("centre", {static_cast<float>(c.centre.value_or(0))}, {1})}, "centred");
  return g.Op("Div", {v, g.Floats("divisor", {static_cast<float>(c.divisor.value_or(1))}, {1})}, "scaled");
}

// One raw column, input [N, 1], encoded into its output columns [N, width].
Result<std::string> Encode(Graph& g, const ColumnTransform& c) {
  if (c.bin != Binning::kNone) {
    return InvalidArgument("model.transform." + c.column + ": binned columns cannot be exported to ONNX yet");
  }
  const std::string input = c.column;
  if (!c.coded()) {
    g.Declare(true, input, onnx::TensorProto::FLOAT, 1);
    std::string v = input;
    if (c.impute != Impute::kNone && c.fill.is_number()) {
      const std::string missing = g.Op("IsNaN", {v}, "missing");
      v = g.Op("Where", {missing, g.Floats("fill", {c.fill.get<float>()}, {1}), v}, "imputed");
    }
    return Scale(g, c, v);
  }
  // Text: the level's code by a lookup (an unknown level gets K, which one-hot coding leaves all
  // zeros), missing cells the code of the imputed level.
  g.Declare(true, input, onnx::TensorProto::STRING, 1);
  const auto levels = static_cast<int64_t>(c.levels.size());
  std::vector<std::string> keys = c.levels;
  std::vector<int64_t> codes(c.levels.size());
  for (int64_t k = 0; k < levels; ++k) codes[static_cast<size_t>(k)] = k;
  if (c.impute != Impute::kNone && c.fill.is_string()) {
    const auto at = std::find(c.levels.begin(), c.levels.end(), c.fill.get<std::string>());
    for (const std::string& token : kMissingTokens) {
      if (at == c.levels.end() || std::find(keys.begin(), keys.end(), token) != keys.end()) continue;
      keys.push_back(token);
      codes.push_back(at - c.levels.begin());
    }
  }
  onnx::NodeProto* lookup = nullptr;
  const std::string code = g.Op("LabelEncoder", {input}, "code", &lookup);
  lookup->set_domain("ai.onnx.ml");
  Graph::Attribute(lookup, "keys_strings", keys);
  Graph::Attribute(lookup, "values_int64s", codes);
  Graph::Attribute(lookup, "default_int64", levels);
  if (c.coding == Coding::kLabel || c.coding == Coding::kRecode) {
    std::string v = g.Op("Cast", {code}, "code_float", &lookup);
    Graph::Attribute(lookup, "to", int64_t{onnx::TensorProto::FLOAT});
    if (c.coding == Coding::kRecode) v = g.Op("Add", {v, g.Floats("one", {1.0f}, {1})}, "recoded");
    return Scale(g, c, v);
  }
  std::string v =
      g.Op("OneHot", {code, g.Ints("depth", {levels}, {}), g.Floats("off_on", {0.0f, 1.0f}, {2})}, "onehot");
  v = g.Op("Reshape", {v, g.Ints("shape", {-1, levels}, {2})}, "indicators");
  if (c.coding == Coding::kDummy) {  // the first level is the reference
    v = g.Op("Slice", {v, g.Ints("starts", {1}, {1}), g.Ints("ends", {levels}, {1}), g.Ints("axes", {1}, {1})},
             "dummies");
  }
  return v;
}

// Softmax probabilities, the class code and its name, from logits [N, K].
void Classify(Graph& g, const std::string& logits, const std::vector<std::string>& classes) {
  const auto k = static_cast<int64_t>(classes.size());
  onnx::NodeProto* n = nullptr;
  g.Op("Softmax", {logits}, "", &n, "probabilities");
  Graph::Attribute(n, "axis", int64_t{1});
  g.Op("ArgMax", {logits}, "", &n, "class");
  Graph::Attribute(n, "axis", int64_t{1});
  Graph::Attribute(n, "keepdims", int64_t{0});
  g.Op("LabelEncoder", {"class"}, "", &n, "label");
  n->set_domain("ai.onnx.ml");
  std::vector<int64_t> codes;
  for (int64_t c = 0; c < k; ++c) codes.push_back(c);
  Graph::Attribute(n, "keys_int64s", codes);
  Graph::Attribute(n, "values_strings", classes);
  g.Declare(false, "probabilities", onnx::TensorProto::FLOAT, k);
  g.Declare(false, "class", onnx::TensorProto::INT64, 0);
  g.Declare(false, "label", onnx::TensorProto::STRING, 0);
}

// x %*% W + b, for W [in, out] and b [out].
std::string Affine(Graph& g, const std::string& x, const Matrix& w, const Eigen::RowVectorXd& b) {
  const std::string product = g.Op("MatMul", {x, g.Matrix2("W", w)}, "product");
  return g.Op("Add", {product, g.Matrix2("b", Matrix(b))}, "affine");
}

Status AddModel(Graph& g, const UsableModel& model, const std::string& x) {
  const Matrix& p = model.parameters;
  switch (model.run.kind) {
    case ModelKind::kLinear: {
      const Eigen::Index o = model.run.intercept ? 1 : 0;
      const Eigen::RowVectorXd b = Eigen::RowVectorXd::Constant(1, o ? p(0, 0) : 0.0);
      const std::string y = Affine(g, x, p.bottomRows(p.rows() - o), b);
      g.Op("Identity", {y}, "", nullptr, "predicted");
      g.Declare(false, "predicted", onnx::TensorProto::FLOAT, 1);
      return Status::Ok();
    }
    case ModelKind::kLogistic: {
      // Class 0, the reference, scores 0: a zero column before the others.
      const Eigen::Index o = model.run.intercept ? 1 : 0;
      Matrix w = Matrix::Zero(p.rows() - o, p.cols() + 1);
      w.rightCols(p.cols()) = p.bottomRows(p.rows() - o);
      Eigen::RowVectorXd b = Eigen::RowVectorXd::Zero(p.cols() + 1);
      if (o) b.tail(p.cols()) = p.row(0);
      Classify(g, Affine(g, x, w, b), model.classes);
      return Status::Ok();
    }
    case ModelKind::kMlp: {
      const ModelSpec& spec = model.run.mlp;
      std::string h = x;
      if (spec.input_scale != 1) h = g.Op("Div", {h, g.Floats("input_scale", {spec.input_scale}, {1})}, "input");
      const std::vector<int> widths = spec.widths();
      int64_t at = 0;
      for (size_t l = 0; l + 1 < widths.size(); ++l) {
        const int in = widths[l], out = widths[l + 1];
        // Stored out x in, column-major: its transpose is in x out.
        const Matrix w = p.col(0).segment(at, int64_t{out} * in).reshaped(out, in).transpose();
        const Eigen::RowVectorXd b = p.col(0).segment(at + int64_t{out} * in, out).transpose();
        at += int64_t{out} * in + out;
        h = Affine(g, h, w, b);
        if (l + 2 < widths.size()) {
          const char* op = spec.activation == Activation::kRelu   ? "Relu"
                           : spec.activation == Activation::kTanh ? "Tanh"
                                                                  : "Sigmoid";
          h = g.Op(op, {h}, "hidden");
        }
      }
      if (spec.output == OutputKind::kSoftmax) {
        Classify(g, h, model.classes);
      } else {
        g.Op("Identity", {h}, "", nullptr, "predicted");
        g.Declare(false, "predicted", onnx::TensorProto::FLOAT, spec.outputs);
      }
      return Status::Ok();
    }
    case ModelKind::kKMeans: {
      // sum((x - c)^2) for every centre, as differences: float32 keeps them to its precision
      // where |x|^2 - 2 x.c + |c|^2 would cancel.
      onnx::NodeProto* n = nullptr;
      const std::string rows = g.Op("Unsqueeze", {x, g.Ints("axis", {1}, {1})}, "rows");  // [N, 1, D]
      std::vector<float> centres;
      for (Eigen::Index c = 0; c < p.rows(); ++c) {
        for (Eigen::Index j = 0; j < p.cols(); ++j) centres.push_back(static_cast<float>(p(c, j)));
      }
      const std::string diff = g.Op("Sub", {rows, g.Floats("centres", centres, {1, p.rows(), p.cols()})}, "diff");
      const std::string squares = g.Op("Mul", {diff, diff}, "squares");
      const std::string d = g.Op("ReduceSum", {squares, g.Ints("sum_axis", {2}, {1})}, "", &n, "distances");
      Graph::Attribute(n, "keepdims", int64_t{0});
      g.Op("ArgMin", {d}, "", &n, "cluster");
      Graph::Attribute(n, "axis", int64_t{1});
      Graph::Attribute(n, "keepdims", int64_t{0});
      g.Declare(false, "distances", onnx::TensorProto::FLOAT, p.rows());
      g.Declare(false, "cluster", onnx::TensorProto::INT64, 0);
      return Status::Ok();
    }
    case ModelKind::kPca: {
      const std::string z = g.Op(
          "Div",
          {g.Op("Sub", {x, g.Matrix2("centre", Matrix(p.row(0)))}, "centred"), g.Matrix2("scale", Matrix(p.row(1)))},
          "standardised");
      g.Op("MatMul", {z, g.Matrix2("components", Matrix(p.bottomRows(p.rows() - 2).transpose()))}, "", nullptr,
           "scores");
      g.Declare(false, "scores", onnx::TensorProto::FLOAT, p.rows() - 2);
      return Status::Ok();
    }
  }
  return InvalidArgument("model: no ONNX form for this model");
}

}  // namespace

Result<std::string> ExportOnnx(const nlohmann::json& saved) {
  FEDRA_ASSIGN_OR_RETURN(UsableModel model, ReadUsableModel(saved, "model"));
  const std::vector<std::string>& features = model.features;
  FEDRA_ASSIGN_OR_RETURN(const nlohmann::json spec, SavedTransformSpec(saved, features));
  FEDRA_ASSIGN_OR_RETURN(Transform transform, Transform::Parse(spec, features, {}, "model.transform"));

  onnx::ModelProto proto;
  proto.set_ir_version(8);
  proto.set_producer_name("fedra");
  const nlohmann::json run = saved.value("run_id", nlohmann::json());
  if (run.is_number_integer()) proto.set_model_version(run.get<int64_t>());
  proto.set_doc_string(model.algorithm + " model of run " + run.dump() + " on dataset " +
                       saved.value("dataset", nlohmann::json()).dump());
  proto.add_opset_import()->set_version(13);
  onnx::OperatorSetIdProto* ml = proto.add_opset_import();
  ml->set_domain("ai.onnx.ml");
  ml->set_version(2);
  onnx::GraphProto* graph = proto.mutable_graph();
  graph->set_name("fedra_" + model.algorithm);
  Graph g(graph);

  std::vector<std::string> encoded;
  for (const ColumnTransform& c : transform.columns) {
    FEDRA_ASSIGN_OR_RETURN(std::string v, Encode(g, c));
    encoded.push_back(std::move(v));
  }
  onnx::NodeProto* concat = g.Node("Concat", {}, g.Name("features"));
  for (const std::string& v : encoded) concat->add_input(v);
  Graph::Attribute(concat, "axis", int64_t{1});
  std::string x = concat->output(0);
  // The model reads its inputs in its own order, which may leave some encoded columns out.
  const std::vector<std::string> made = transform.OutputNames();
  if (!model.inputs.empty() && model.inputs != made) {
    std::vector<int64_t> indices;
    for (const std::string& name : model.inputs) {
      const auto at = std::find(made.begin(), made.end(), name);
      if (at == made.end()) return InvalidArgument("model.inputs: '" + name + "' is not made by the transform");
      indices.push_back(at - made.begin());
    }
    onnx::NodeProto* n = nullptr;
    x = g.Op("Gather", {x, g.Ints("inputs", indices, {static_cast<int64_t>(indices.size())})}, "inputs", &n);
    Graph::Attribute(n, "axis", int64_t{1});
  }
  FEDRA_RETURN_IF_ERROR(AddModel(g, model, x));
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) return Internal("onnx: the model did not serialize");
  return bytes;
}

}  // namespace fedra
