//! The float parameters of a module as a list: each one's path (as records and
//! [`ParamGroup::from_paths`](burn::module::ParamGroup::from_paths) name it), id, rank and size.
//! Rules over this list pick parameter groups: no weight decay for rank-1 tensors, LoRA on the
//! rank-2 weights of some layers, a classifier head to train faster.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// One float parameter of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// `Struct.field.sub.weight`.
    pub path: String,
    /// The parameter's id (stable within a process, not across saving and loading).
    pub id: ParamId,
    /// Tensor rank.
    pub rank: usize,
    /// Number of values.
    pub numel: usize,
}

#[derive(Default)]
struct Collect {
    path: Vec<String>,
    found: Vec<ParamInfo>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.found.push(ParamInfo {
            path: self.path.join("."),
            id: param.id,
            rank: D,
            numel: param.lazy_shape().num_elements(),
        });
    }
}

/// Every float parameter of `module`, in visiting order.
pub fn float_params<M: Module>(module: &M) -> Vec<ParamInfo> {
    let mut collect = Collect::default();
    module.visit(&mut collect);
    collect.found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;
    use burn::nn::LinearConfig;

    #[test]
    fn a_linear_layer_has_its_weight_then_its_bias() {
        let linear = LinearConfig::new(3, 2).init(&device());
        let params = float_params(&linear);
        let summary: Vec<(&str, usize, usize)> = params
            .iter()
            .map(|p| (p.path.as_str(), p.rank, p.numel))
            .collect();
        assert_eq!(summary, [("weight", 2, 6), ("bias", 1, 2)]);
        assert_eq!(params[0].id, linear.weight.id);
        assert_eq!(params[1].id, linear.bias.as_ref().unwrap().id);
    }
}
