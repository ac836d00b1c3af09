//! Start order of services from `depends_on`.

use std::collections::BTreeMap;

use super::error::{ComposeError, ComposeErrorKind};
use super::model::{ComposeProject, Service};

impl ComposeProject {
    /// Groups services into levels: every service's dependencies are in
    /// earlier levels, so the services of one level can be started in
    /// parallel once the previous level is up (and healthy, where a
    /// dependency's condition asks for it). Within a level, file order is kept.
    ///
    /// Loading already checked the graph, so this fails only if the model was
    /// edited afterwards to name an unknown service or to form a cycle.
    pub fn start_levels(&self) -> Result<Vec<Vec<&Service>>, ComposeError> {
        let index: BTreeMap<&str, usize> = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        // deps[i]: indexes of the services that service i depends on.
        let mut deps = Vec::with_capacity(self.services.len());
        for service in &self.services {
            let mut of_service = Vec::with_capacity(service.depends_on.len());
            for name in service.depends_on.keys() {
                let &i = index.get(name.as_str()).ok_or_else(|| {
                    self.error(ComposeErrorKind::UnknownDependency {
                        service: service.name.clone(),
                        dependency: name.clone(),
                    })
                })?;
                of_service.push(i);
            }
            deps.push(of_service);
        }

        let mut level_of: Vec<Option<usize>> = vec![None; self.services.len()];
        let mut levels: Vec<Vec<&Service>> = Vec::new();
        let mut placed = 0;
        while placed < self.services.len() {
            let level = levels.len();
            let ready: Vec<usize> = (0..self.services.len())
                .filter(|&i| {
                    level_of[i].is_none()
                        && deps[i]
                            .iter()
                            .all(|&d| level_of[d].is_some_and(|l| l < level))
                })
                .collect();
            if ready.is_empty() {
                return Err(self.error(ComposeErrorKind::DependencyCycle(
                    self.find_cycle(&deps, &level_of),
                )));
            }
            for &i in &ready {
                level_of[i] = Some(level);
            }
            placed += ready.len();
            levels.push(ready.into_iter().map(|i| &self.services[i]).collect());
        }
        Ok(levels)
    }

    /// A cycle among the unplaced services, as names with the first repeated last.
    ///
    /// Every unplaced service has an unplaced dependency (else it would have been
    /// placed), so walking such dependencies must eventually revisit a service.
    fn find_cycle(&self, deps: &[Vec<usize>], level_of: &[Option<usize>]) -> Vec<String> {
        let mut path: Vec<usize> = Vec::new();
        let mut current = (0..deps.len()).find(|&i| level_of[i].is_none());
        while let Some(i) = current {
            if let Some(start) = path.iter().position(|&p| p == i) {
                let mut cycle: Vec<String> = path[start..]
                    .iter()
                    .map(|&p| self.services[p].name.clone())
                    .collect();
                cycle.push(self.services[i].name.clone());
                return cycle;
            }
            path.push(i);
            current = deps[i].iter().copied().find(|&d| level_of[d].is_none());
        }
        Vec::new()
    }

    fn error(&self, kind: ComposeErrorKind) -> ComposeError {
        ComposeError::new(&self.file, None, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::Dependency;
    use crate::compose::test_support::project;

    fn names(levels: Vec<Vec<&Service>>) -> Vec<Vec<&str>> {
        levels
            .into_iter()
            .map(|level| level.into_iter().map(|s| s.name.as_str()).collect())
            .collect()
    }

    #[test]
    fn levels_group_independent_services_in_file_order() {
        let p = project(
            "services:\n  app:\n    image: x\n    depends_on: [db, cache]\n  db:\n    image: x\n  \
             cache:\n    image: x\n  proxy:\n    image: x\n    depends_on: [app]\n  monitor:\n    image: x\n    \
             depends_on: [db]\n",
        );
        assert_eq!(
            names(p.start_levels().unwrap()),
            [vec!["db", "cache"], vec!["app", "monitor"], vec!["proxy"]]
        );
    }

    #[test]
    fn diamond_dependencies() {
        let p = project(
            "services:\n  d:\n    image: x\n    depends_on: [b, c]\n  b:\n    image: x\n    depends_on: [a]\n  \
             c:\n    image: x\n    depends_on: [a]\n  a:\n    image: x\n",
        );
        assert_eq!(
            names(p.start_levels().unwrap()),
            [vec!["a"], vec!["b", "c"], vec!["d"]]
        );
    }

    #[test]
    fn cycles_are_reported_as_a_path() {
        let mut p = project(
            "services:\n  a:\n    image: x\n  b:\n    image: x\n  c:\n    image: x\n  ok:\n    image: x\n",
        );
        let depend = |p: &mut ComposeProject, from: usize, to: &str| {
            p.services[from]
                .depends_on
                .insert(to.to_owned(), Dependency::default());
        };
        depend(&mut p, 0, "b");
        depend(&mut p, 1, "c");
        depend(&mut p, 2, "a");
        let err = p.start_levels().unwrap_err();
        assert_eq!(
            err.kind().to_string(),
            "dependency cycle between services: a -> b -> c -> a"
        );
        assert!(p.start_levels().is_err());

        let mut p = project("services:\n  a:\n    image: x\n  self:\n    image: x\n");
        depend(&mut p, 1, "self");
        assert_eq!(
            p.start_levels().unwrap_err().kind().to_string(),
            "dependency cycle between services: self -> self"
        );
    }

    #[test]
    fn unknown_dependency_after_editing() {
        let mut p = project("services:\n  a:\n    image: x\n");
        p.services[0]
            .depends_on
            .insert("ghost".into(), Dependency::default());
        assert_eq!(
            p.start_levels().unwrap_err().to_string(),
            "/p/compose.yaml: service \"a\" depends on undefined service \"ghost\""
        );
    }
}
